"""Dashboards (状況ボード): the aiohttp status board for on-call PR staff."""
