"""Noroshi's composition root: settings, the command line and process start-up.

The only package that knows `streams`, `playbooks`, `responders` and `dashboards` all at once.
"""
