"""The five Friendbuy actions, one module each, and their registry."""

from __future__ import annotations

from typing import Final

from fbcli.actions import custom_event, customer, page, purchase, signup
from fbcli.actions.base import Action, ActionField, Mode

ACTIONS: Final[dict[str, Action]] = {
    a.name: a
    for a in (customer.ACTION, purchase.ACTION, signup.ACTION, custom_event.ACTION, page.ACTION)
}
"""Every action by name, in the order the docs list them."""

__all__ = ["ACTIONS", "Action", "ActionField", "Mode"]
