"""A deployment of the synthesized stack onto the IAM-enforcing moto: this test's own bucket, table and
secrets, each function's role policy and environment taken from the template and resolved to them, and the
function's code run as an IAM user holding exactly that policy.

A new function (a scheduled GC, say) is covered by one more fixture: `deployment.user_for("its.handler")`
gives it credentials with its own role's policy, and `deployment.environment("its.handler")` its settings.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import uuid

from dockyard.resources import BOOTSTRAP_KEY_ID, Env, Table
from tests.support import cfn
from tests.support.iam_moto import ACCOUNT, IamMoto
from tests.support.processes import Output, free_port, stop_process, wait_for_registry
from tests.support.stack_template import REGION, ROOT

REGISTRY_HANDLER = "dockyard.handler.handler"
GC_HANDLER = "dockyard.maintenance.function.handler"
# Services whose resources moto does not match (it authorizes their actions against `*` only).
ACTION_ONLY = ("dynamodb:", "secretsmanager:", "logs:", "kms:")
# Operations that IAM authorizes by the actions they contain, but moto by their own name (which is no IAM
# action at all): granted for moto only where the policy grants every contained action.
COMPOSITE = {"dynamodb:TransactWriteItems": {"dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem",
                                             "dynamodb:ConditionCheckItem"},
             "dynamodb:TransactGetItems": {"dynamodb:GetItem"}}


class Deployment:
    def __init__(self, moto: IamMoto, template: dict):
        from dockyard.auth.secrets_store import ensure_keyring
        from dockyard.config import Settings
        from dockyard.storage.aws import ensure_bucket, ensure_table

        self.moto, self.template = moto, template
        self.name = f"dy-{uuid.uuid4().hex[:12]}"
        admin = moto.admin
        self.s3, self.dynamodb = moto.client("s3", admin), moto.client("dynamodb", admin)
        self.secrets = moto.client("secretsmanager", admin)
        settings = Settings(bucket=self.name, table=self.name, endpoint_url=moto.endpoint)
        ensure_bucket(self.s3, settings)
        ensure_table(self.dynamodb, settings)
        signing = f"{self.name}-signing"
        ensure_keyring(self.secrets, signing)
        self.admin_secret = "dys_" + secrets.token_urlsafe(32)
        bootstrap = self.secrets.create_secret(Name=f"{self.name}-admin", SecretString=json.dumps(
            {"id": BOOTSTRAP_KEY_ID, "secret": self.admin_secret}))["ARN"]

        self.physical = cfn.Physical(account=ACCOUNT, region=REGION)
        self.physical.bind(template, "AWS::S3::Bucket", self.name)
        self.physical.bind(template, "AWS::DynamoDB::GlobalTable", self.name)
        log_groups = {k: f"/aws/lambda/{self.name}-{k}" for k in cfn.of_type(template, "AWS::Logs::LogGroup")}
        for logical, log_group in log_groups.items():
            self.physical.bind_id(logical, log_group, self.physical.arn("AWS::Logs::LogGroup", log_group))
        for logical in cfn.of_type(template, "AWS::Lambda::Function"):  # the functions, by their logical ids
            name = f"{self.name}-{logical}"[:64]
            self.physical.bind_id(logical, name, self.physical.arn("AWS::Lambda::Function", name))
        # Which secret is which: the function's environment names them (`{"Ref": <secret>}`).
        variables = cfn.function_environment(cfn.function_by_handler(template, REGISTRY_HANDLER)[1])
        signing_arn = self.secrets.describe_secret(SecretId=signing)["ARN"]
        for variable, arn in ((Env.SIGNING_SECRET, signing_arn), (Env.BOOTSTRAP_SECRET, bootstrap)):
            self.physical.bind_id(variables[variable]["Ref"], arn, arn)
        table_arn = self.physical.arn("AWS::DynamoDB::GlobalTable", self.name)
        self.own_arns = {table_arn, f"{table_arn}/index/{Table.GC_INDEX}", signing_arn, bootstrap,
                         *(self.physical.arn("AWS::Logs::LogGroup", log_group) for log_group in log_groups.values())}
        if Env.EDGE_KEY_SECRET in variables:
            self._bind_edge(template, variables)
        # Upstream credentials: the secrets the function makes under the prefix its environment names.
        prefix = {k: v for k, v in variables.items()}.get(Env.UPSTREAM_SECRET_PREFIX)
        if prefix:
            self.own_arns.add(f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:{prefix}*")

    def _bind_edge(self, template: dict, variables: dict) -> None:
        """Edge downloads: the key's secret (a placeholder, as the stack makes it), the public key's id and
        the distribution's domain."""
        self.edge_secret = self.secrets.create_secret(Name=f"{self.name}-edge-key",
                                                      SecretString="a placeholder")["ARN"]
        self.physical.bind_id(variables[Env.EDGE_KEY_SECRET]["Ref"], self.edge_secret, self.edge_secret)
        self.own_arns.add(self.edge_secret)
        self.edge_key_id = "K" + uuid.uuid4().hex[:13].upper()
        [public_key] = cfn.of_type(template, "AWS::CloudFront::PublicKey")
        self.physical.bind_id(public_key, self.edge_key_id, f"arn:aws:cloudfront::{ACCOUNT}:public-key/x")
        [distribution] = cfn.of_type(template, "AWS::CloudFront::Distribution")
        self.physical.bind_attribute(distribution, "DomainName", "d111111abcdef8.cloudfront.net")

    # --- what a function is and may do ----------------------------------------------------------------------

    def statements(self, handler: str = REGISTRY_HANDLER) -> list[dict]:
        """The function's role statements, resolved to this deployment's resources."""
        _, function = cfn.function_by_handler(self.template, handler)
        return self.physical.resolve(cfn.role_statements(self.template, cfn.role_of(function)))

    def environment(self, handler: str = REGISTRY_HANDLER) -> dict[str, str]:
        _, function = cfn.function_by_handler(self.template, handler)
        return {k: str(v) for k, v in self.physical.resolve(cfn.function_environment(function)).items()}

    def user_for(self, handler: str = REGISTRY_HANDLER, without: str | None = None) -> tuple[str, str]:
        """Keys of a new IAM user holding the function's role policy (less one action, to prove that the
        harness can fail)."""
        granted = {a for s in self.statements(handler) for a in ([s["Action"]] if isinstance(s["Action"], str)
                                                                else s["Action"])}
        assert without is None or without in granted, f"{without} is not granted in the first place"
        statements = []
        for statement in self.statements(handler):
            actions = [statement["Action"]] if isinstance(statement["Action"], str) else statement["Action"]
            actions = [a for a in actions if a != without]
            if not actions:
                continue
            resources = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
            if any(a.startswith(ACTION_ONLY) for a in actions):
                # moto cannot match these resources, so the harness checks them itself, then grants on "*".
                assert set(resources) <= self.own_arns, f"{actions} on {resources}: not this deployment's"
                resources = ["*"]
                actions += [c for c, contained in COMPOSITE.items() if contained <= set(actions)]
            statements.append({**statement, "Action": actions, "Resource": resources})
        return self.moto.create_user(f"{self.name}-{uuid.uuid4().hex[:6]}", statements)

    # --- running it -----------------------------------------------------------------------------------------

    def serve(self, keys: tuple[str, str]) -> RegistryProcess:
        return RegistryProcess(self, keys)

    def invoke(self, handler: str, keys: tuple[str, str], event: dict) -> dict:
        """Run a function's handler once, in a process of its own, with its environment and signed with `keys`
        (as Lambda would: a context with the function's full timeout left); returns what it returned."""
        _, function = cfn.function_by_handler(self.template, handler)
        module, name = handler.rsplit(".", 1)
        script = (f"import json, sys\nfrom {module} import {name} as handler\n"
                  "class Context:\n    invoked_function_arn = 'arn:aws:lambda:us-east-1:123456789012:function:gc'\n"
                  f"    def get_remaining_time_in_millis(self): return {function['Properties']['Timeout'] * 1000}\n"
                  "print(json.dumps(handler(json.loads(sys.argv[1]), Context())))\n")
        env = {**os.environ, **self.environment(handler), Env.ENDPOINT_URL: self.moto.endpoint,
               "AWS_ACCESS_KEY_ID": keys[0], "AWS_SECRET_ACCESS_KEY": keys[1], "AWS_DEFAULT_REGION": REGION,
               "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "lambda_src")])}
        for variable in ("AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_CA_BUNDLE"):
            env.pop(variable, None)
        result = subprocess.run([sys.executable, "-c", script, json.dumps(event)], capture_output=True, text=True,
                                env=env, cwd=ROOT, timeout=600)
        if result.returncode != 0:
            raise RuntimeError(f"{handler} failed:\n{result.stderr[-3000:]}")
        return json.loads(result.stdout.strip().splitlines()[-1])


class RegistryProcess:
    """The registry app with the function's environment, signed with `keys`, under uvicorn on loopback."""

    def __init__(self, deployment: Deployment, keys: tuple[str, str]):
        self.port = free_port()
        self.url, self.host = f"http://127.0.0.1:{self.port}", f"127.0.0.1:{self.port}"
        self.log = Output()
        env = {**os.environ, **deployment.environment(), Env.ENDPOINT_URL: deployment.moto.endpoint,
               "AWS_ACCESS_KEY_ID": keys[0], "AWS_SECRET_ACCESS_KEY": keys[1], "AWS_DEFAULT_REGION": REGION,
               "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "lambda_src")])}
        for name in ("AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_CA_BUNDLE"):
            env.pop(name, None)
        self.process = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "dockyard.app:create_app", "--factory", "--host", "127.0.0.1",
             "--port", str(self.port), "--log-level", "warning", "--no-access-log"],
            stdout=self.log.file, stderr=subprocess.STDOUT, env=env, cwd=ROOT)
        try:
            wait_for_registry(self.process, self.url, "the registry under the function's policy")
        except RuntimeError as exc:
            raise RuntimeError(f"{exc}:\n{self.log.text()}") from None

    def log_text(self) -> str:
        return self.log.text()

    def stop(self) -> None:
        stop_process(self.process)
