"""Playbooks (対応手順): the municipal guidelines as pure incident state machines.

`engine.decide` takes one input (a detection, a board command or a deadline) and
returns the next state, the effects for the responders and the timeline entries.
`machines` holds the four transition tables (in the shape `transitions` defines),
naming the functions of `guards` and of `steps` and `drafts`; `context` takes the
transitions; `state` is what an incident remembers; `texts` is every word a person
reads; `profile` reads the municipality profile; `policy` and `checks` hold the rules
behind `rules`; `runner` is what the worker stores.
"""
