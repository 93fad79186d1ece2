"""Playbooks (対応手順): the municipal guidelines as pure incident state machines.

`engine.decide` takes one input (a detection, a board command or a deadline) and
returns the next state, the effects for the responders and the timeline entries;
`policy` and `checks` hold the rules it enforces; `runner` is what the worker stores.
"""
