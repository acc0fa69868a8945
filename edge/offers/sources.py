"""Reading the offer engine's inputs from files (the adapters in front of the pure rules core)."""

from __future__ import annotations

import json
from pathlib import Path

from edge.errors import EdgeError
from edge.offers.profile import Profile, ProfileError
from edge.offers.rules import OfferRules, RulesError, parse_rules


def load_rules(path: str | Path) -> OfferRules:
    """Read and validate an offer rules JSON document; raise RulesError naming every problem."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise RulesError(str(path), [f"<file>: cannot read JSON: {exc}"]) from None
    return parse_rules(data, str(path))


class ProfilesError(EdgeError):
    """A profiles file was refused; ``problems`` lists 'shopper: reason' strings."""

    def __init__(self, source: str, problems: list[str]) -> None:
        self.source = source
        self.problems = problems
        super().__init__(f"profiles {source} refused:\n" + "\n".join(f"  - {p}" for p in problems[:20]))


def load_profiles(path: str | Path) -> dict[str, Profile]:
    """Read ``{"<pseudonymous shopper id>": {"items": [...], "weights": [...], "n_baskets": n}, ...}``."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ProfilesError(str(path), [f"<file>: cannot read JSON: {exc}"]) from None
    if not isinstance(data, dict):
        raise ProfilesError(str(path), ["<root>: must be an object of shopper id -> profile"])
    profiles: dict[str, Profile] = {}
    problems: list[str] = []
    for shopper, doc in data.items():
        try:
            if not isinstance(doc, dict):
                raise ProfileError("<root>", "must be an object")
            profiles[shopper] = Profile.from_dict(doc)
        except ProfileError as exc:
            problems.append(f"{shopper}: {exc}")
    if problems:
        raise ProfilesError(str(path), problems)
    return profiles
