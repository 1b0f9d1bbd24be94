"""Annotations: classifications that external annotators attach to objects.

- :mod:`~skysift.annotations.store`: annotators (a topic owned by one user) and their
  annotations (one live annotation per object and annotator), checked and stored with
  parameterised statements;
- :mod:`~skysift.filters.catalogue`: the annotator tables a user's filters may join
  (public ones, and the user's own private ones);
- :mod:`~skysift.annotations.trigger`: when annotations arrive, the active filters with trigger
  ``annotation`` or ``both`` that read those annotators run over the annotated objects and
  produce records with header ``reason=annotation``;
- :mod:`~skysift.annotations.kafka`: the Kafka path for high-volume annotators.

docs/annotations.md is the user's guide.
"""
