"""`dockyard.blocking`: on the event loop an AWS call is refused at its first event, before botocore resolves
an endpoint, serializes or sends anything; the work then runs again in a worker thread and gets its answer."""

import asyncio
import threading

from botocore.stub import Stubber

from dockyard.blocking import without_blocking
from dockyard.storage.aws import new_clients


def test_a_backend_call_is_refused_on_the_event_loop_before_any_work_then_runs_in_a_thread():
    _, dynamodb = new_clients("us-east-1", "http://127.0.0.1:9")
    resolved, threads = [], []
    dynamodb.meta.events.register("before-endpoint-resolution.dynamodb", lambda **_: resolved.append(1))
    stubber = Stubber(dynamodb)
    stubber.add_response("get_item", {"Item": {"pk": {"S": "x"}}}, {"TableName": "t", "Key": {"pk": {"S": "x"}}})

    def work():
        threads.append(threading.current_thread())
        return dynamodb.get_item(TableName="t", Key={"pk": {"S": "x"}})["Item"]

    with stubber:
        assert asyncio.run(without_blocking(work)) == {"pk": {"S": "x"}}
    main = threading.main_thread()
    assert threads[0] is main and threads[1] is not main  # tried on the loop, answered in a worker thread
    assert len(resolved) == 1  # the refused attempt resolved no endpoint
    stubber.assert_no_pending_responses()


def test_work_that_needs_no_backend_stays_on_the_event_loop():
    async def run():
        return await without_blocking(lambda: threading.current_thread())

    assert asyncio.run(run()) is threading.main_thread()



def test_a_refused_call_inside_a_best_effort_handler_still_moves_the_work_to_a_thread():
    _, dynamodb = new_clients("us-east-1", "http://127.0.0.1:9")
    stubber = Stubber(dynamodb)
    stubber.add_response("put_item", {}, {"TableName": "t", "Item": {"pk": {"S": "stamp"}}})
    done = []

    def work():
        try:  # bookkeeping that must never fail the request
            dynamodb.put_item(TableName="t", Item={"pk": {"S": "stamp"}})
            done.append(threading.current_thread())
        except Exception:  # noqa: BLE001
            done.append(None)
        return "answered"

    with stubber:
        assert asyncio.run(without_blocking(work)) == "answered"
    assert done == [done[-1]] and done[-1] not in (None, threading.main_thread())  # written, in a thread
    stubber.assert_no_pending_responses()
