"""Context: where an object is, as filters can ask it.

- :mod:`skysift.context.watchlists`: named cones; hits in ``watchlist_hits``;
- :mod:`skysift.context.watchmaps`: sky areas (MOCs); hits in ``area_hits``;
- :mod:`skysift.context.gw`: gravitational-wave events and the latest map of each; hits in
  ``gw_hits``;
- :mod:`skysift.context.stage`: the pipeline's stage that matches every batch against all three;
- :mod:`skysift.context.tables`: the tables as filters see them.

In the data flow, context comes after the store and the features and before the filters: it
imports the store, never the filters.
"""
