"""Streams (ストリーム処理): the Faust app, topics, records, agents and sources.

Importing this package imports no Faust; `streams.app` does.
"""
