"""YAML as cartsim reads it: plain documents of bounded size, no aliases, no duplicate keys.

PyYAML's safe loader still expands aliases (a few hundred bytes of ``&a [*a, *a, ...]``
become gigabytes) and lets a repeated key silently replace the first. A scenario or
trial never needs either, so both are refused, as are documents too large or too deeply
nested to be a scenario.
"""

from __future__ import annotations

import re

import yaml

#: Largest YAML document read (bytes); a scenario or a 20-arm trial is a few kB.
MAX_YAML_BYTES = 1_000_000
#: Deepest nesting of mappings and lists; the scenario schema itself is 4 deep.
MAX_YAML_DEPTH = 32


class YamlRefused(ValueError):
    """A document that is not plain, bounded YAML (the message says where and why)."""


def _where(mark) -> str:
    return f" (line {mark.line + 1}, column {mark.column + 1})"


class _PlainLoader(yaml.SafeLoader):
    """SafeLoader without aliases or duplicate keys, with a nesting limit, and with YAML 1.2 floats:
    YAML 1.1 reads ``1e12`` (no dot) as a string, and scenarios are full of cell counts written so."""

    def __init__(self, stream):
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent, index):
        if self.check_event(yaml.AliasEvent):
            mark = self.peek_event().start_mark
            raise YamlRefused(f"YAML aliases (*name) are not accepted{_where(mark)}; write the value out in full")
        event = self.peek_event()
        if getattr(event, "anchor", None) is not None:
            raise YamlRefused(f"YAML anchors (&name) are not accepted{_where(event.start_mark)}; write the value out in full")
        self._depth += 1
        try:
            if self._depth > MAX_YAML_DEPTH:
                raise YamlRefused(f"YAML nested deeper than {MAX_YAML_DEPTH} levels{_where(event.start_mark)}")
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def construct_mapping(self, node, deep=False):
        seen: set = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            try:
                repeated = key in seen
            except TypeError:  # an unhashable key: PyYAML's own error below says so
                break
            if repeated:
                raise YamlRefused(f"duplicate key {key!r}{_where(key_node.start_mark)}; each key may appear once")
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


_FLOAT_1_2 = re.compile(r"""^[-+]?(?:[0-9][0-9_]*(?:\.[0-9_]*)?|\.[0-9_]+)(?:[eE][-+]?[0-9]+)?$
    |^[-+]?\.(?:inf|Inf|INF)$|^\.(?:nan|NaN|NAN)$""", re.X)
_PlainLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:float"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_PlainLoader.add_implicit_resolver("tag:yaml.org,2002:float", _FLOAT_1_2, list("-+0123456789."))


def parse_yaml(text: str | bytes) -> object:
    """The data of one plain YAML document; :class:`YamlRefused` for anything else, naming the reason."""
    if len(text) > MAX_YAML_BYTES:
        raise YamlRefused(f"the document has {len(text)} bytes; at most {MAX_YAML_BYTES} are read")
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise YamlRefused(f"not UTF-8 text ({exc})") from None
    try:
        return yaml.load(text, Loader=_PlainLoader)  # noqa: S506 (a SafeLoader subclass)
    except yaml.YAMLError as exc:
        raise YamlRefused(f"not valid YAML ({exc})") from None
    except RecursionError:
        raise YamlRefused(f"YAML nested deeper than {MAX_YAML_DEPTH} levels") from None
