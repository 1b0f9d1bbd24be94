"""The batch loop and its one failure policy (docs/operations.md, "When things fail").

- :mod:`skysift.worker.policy`: how every failure of a batch is sorted (transient, missing
  topics, content) and what is done about it (wait, re-create, split and dead-letter);
- :mod:`skysift.worker.kafkaloop`: consume -> decode -> process -> dead letters -> commit,
  shared by alert ingest and annotation ingest;
- :mod:`skysift.worker.fileloop`: alert files through the same policy;
- :mod:`skysift.worker.deadletters`: dead letters confirmed before a commit;
- :mod:`skysift.worker.state`, :mod:`skysift.worker.metrics`: what the worker reports (home page,
  ``/health``, Prometheus);
- :mod:`skysift.worker.supervise`: ``skysift serve`` restarts its ingest thread if it dies.
"""

from skysift.worker.handler import Handler, Letter, Outcome
from skysift.worker.kafkaloop import KafkaLoop, LoopTotals
from skysift.worker.policy import BatchRunner, Incident, classify
from skysift.worker.state import WorkerState

__all__ = ["BatchRunner", "Handler", "Incident", "KafkaLoop", "Letter", "LoopTotals", "Outcome",
           "WorkerState", "classify"]
