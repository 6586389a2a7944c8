"""Read a synthesized CloudFormation template the way CloudFormation would deploy it: what a function runs
as (its role's policy statements) and with (its environment), with the intrinsics resolved to the names of
a test's own bucket, table and secrets. No CDK import: the template comes in as JSON.

An intrinsic or a resource type this module does not know raises, so that a harness built on it fails loudly
instead of granting something by accident.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass, field


@dataclass
class Physical:
    """The deployed identity of each logical resource: {logical id: (Ref value, Arn)}."""

    account: str
    region: str
    partition: str = "aws"
    resources: dict[str, tuple[str, str]] = field(default_factory=dict)
    attributes: dict[tuple[str, str], str] = field(default_factory=dict)  # Fn::GetAtt other than Arn

    def bind(self, template: dict, resource_type: str, name: str, arn: str | None = None) -> str:
        """Give every resource of `resource_type` (there must be one) its real name; returns its logical id."""
        [logical] = [k for k, r in template["Resources"].items() if r["Type"] == resource_type] or [None]
        if logical is None:
            raise KeyError(f"the template has no {resource_type}")
        self.resources[logical] = (name, arn or self.arn(resource_type, name))
        return logical

    def bind_id(self, logical: str, ref: str, arn: str) -> None:
        self.resources[logical] = (ref, arn)

    def bind_attribute(self, logical: str, attribute: str, value: str) -> None:
        self.attributes[(logical, attribute)] = value

    def arn(self, resource_type: str, name: str) -> str:
        p, r, a = self.partition, self.region, self.account
        return {
            "AWS::S3::Bucket": f"arn:{p}:s3:::{name}",
            "AWS::DynamoDB::GlobalTable": f"arn:{p}:dynamodb:{r}:{a}:table/{name}",
            "AWS::DynamoDB::Table": f"arn:{p}:dynamodb:{r}:{a}:table/{name}",
            "AWS::Logs::LogGroup": f"arn:{p}:logs:{r}:{a}:log-group:{name}:*",
            "AWS::IAM::Role": f"arn:{p}:iam::{a}:role/{name}",
            "AWS::Lambda::Function": f"arn:{p}:lambda:{r}:{a}:function:{name}",
        }[resource_type]

    def resolve(self, value):
        """`value` with every intrinsic function replaced by its deployed value."""
        if isinstance(value, list):
            return [self.resolve(v) for v in value]
        if not isinstance(value, dict):
            return value
        if len(value) != 1 or not next(iter(value)).startswith(("Ref", "Fn::")):
            return {k: self.resolve(v) for k, v in value.items()}
        (name, arg), = value.items()
        if name == "Ref":
            return self._ref(arg)
        if name == "Fn::GetAtt":
            logical, attribute = arg if isinstance(arg, list) else arg.split(".", 1)
            if attribute != "Arn":
                if (logical, attribute) not in self.attributes:
                    raise ValueError(f"Fn::GetAtt {logical}.{attribute} is not resolved by this harness")
                return self.attributes[(logical, attribute)]
            return self._known(logical)[1]
        if name == "Fn::Join":
            separator, parts = arg
            return separator.join(str(self.resolve(p)) for p in parts)
        if name == "Fn::Select":
            index, items = arg
            return self.resolve(items)[int(index)]
        if name == "Fn::Split":
            separator, text = arg
            return str(self.resolve(text)).split(separator)
        if name == "Fn::Sub":
            text, variables = (arg, {}) if isinstance(arg, str) else arg
            resolved = {k: self.resolve(v) for k, v in variables.items()}
            return re.sub(r"\$\{([^}]+)\}", lambda m: str(resolved[m[1]] if m[1] in resolved else self._sub(m[1])),
                          text)
        raise ValueError(f"{name} is not resolved by this harness")

    def _sub(self, name: str) -> str:
        if "." in name:
            return self.resolve({"Fn::GetAtt": name.split(".", 1)})
        return self._ref(name)

    def _ref(self, name: str) -> str:
        pseudo = {"AWS::AccountId": self.account, "AWS::Region": self.region, "AWS::Partition": self.partition,
                  "AWS::URLSuffix": "amazonaws.com"}
        return pseudo[name] if name in pseudo else self._known(name)[0]

    def _known(self, logical: str) -> tuple[str, str]:
        if logical not in self.resources:
            raise KeyError(f"{logical} has no physical identity in this test; bind it first")
        return self.resources[logical]


def of_type(template: dict, resource_type: str) -> list[str]:
    """The logical ids of every resource of a type."""
    return [k for k, r in template["Resources"].items() if r["Type"] == resource_type]


def functions(template: dict) -> dict[str, dict]:
    return {k: r for k, r in template["Resources"].items() if r["Type"] == "AWS::Lambda::Function"}


def function_by_handler(template: dict, handler: str) -> tuple[str, dict]:
    [found] = [(k, r) for k, r in functions(template).items() if r["Properties"].get("Handler") == handler] or [None]
    if found is None:
        raise KeyError(f"no function with handler {handler} in the template")
    return found


def role_of(function: dict) -> str:
    role = function["Properties"]["Role"]
    if not (isinstance(role, dict) and "Fn::GetAtt" in role):
        raise ValueError(f"the function's role is not a role of this template: {role}")
    return role["Fn::GetAtt"][0]


def role_statements(template: dict, role: str) -> list[dict]:
    """Every statement the role is granted by this template: inline policies and AWS::IAM::Policy resources
    attached to it. A managed policy (which this harness cannot see into) raises."""
    resources = template["Resources"]
    props = resources[role]["Properties"]
    if props.get("ManagedPolicyArns"):
        raise ValueError(f"{role} has managed policies; the harness can only test what the template states")
    statements = [s for p in props.get("Policies", []) for s in p["PolicyDocument"]["Statement"]]
    for resource in resources.values():
        if resource["Type"] == "AWS::IAM::Policy" and {"Ref": role} in resource["Properties"].get("Roles", []):
            statements += resource["Properties"]["PolicyDocument"]["Statement"]
    if not statements:
        raise ValueError(f"{role} is granted nothing")
    return copy.deepcopy(statements)


def function_environment(function: dict) -> dict:
    return copy.deepcopy(function["Properties"].get("Environment", {}).get("Variables", {}))
