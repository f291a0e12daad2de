"""Coded diagnostic statements (catalogue, rules, learned statement models) and the overall
interpretation line; `interpret` is the one entry point `hearteye.analyze` calls."""

from hearteye.interpret.engine import interpret, overall

__all__ = ["interpret", "overall"]
