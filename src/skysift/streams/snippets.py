"""Copy-paste ways to read a topic, shown by the demo, `filter show` and the filter's web page."""

from __future__ import annotations

__all__ = ["consume_command", "python_consumer"]


def python_consumer(bootstrap: str, topic: str) -> str:
    """The seed's consumer program (lasair_consumer), with this server and topic."""
    return f"""import json
from lasair import lasair_consumer

kafka_server = '{bootstrap}'
group_id = 'test123'
my_topic = '{topic}'
consumer = lasair_consumer(kafka_server, group_id, my_topic)
n = 0
while n < 10:
    msg = consumer.poll(timeout=20)
    if msg is None:
        break
    if msg.error():
        print(str(msg.error()))
        break
    jmsg = json.loads(msg.value())
    print(json.dumps(jmsg, indent=2))
    print('===')
    n += 1
print('No more messages available')
"""


def consume_command(bootstrap: str, topic: str) -> str:
    """The ``skysift consume`` command line for ``topic``."""
    return (
        f"skysift --kafka {bootstrap} consume --topic {topic} --group-id my-group --from-beginning"
    )
