"""Playbooks (対応手順): the incident lifecycle as pure state transitions."""
