"""Responders (実行): everything that touches the outside world on an incident's behalf."""
