"""A Griffe extension for the API reference (mkdocs.yml): symcnn's docstrings are free-form
Markdown-like prose with Sphinx roles and, in a few, NumPy-style sections; this rewrites
both into Markdown before mkdocstrings renders them.

- ``:class:`~symcnn.theory.Theory``` (any role) becomes ```Theory```: the name as code, its
  last component when the target starts with ``~``;
- a section ``Parameters`` / ``----------`` becomes a bold heading and a list with an item
  per entry, ``name : type`` and its indented description: ``- `name` (type): ...``.

Not part of the package: the site's build loads it by path."""

from __future__ import annotations

import re

import griffe

ROLE = re.compile(r":(?:py:)?(?:class|mod|func|meth|data|attr|exc|obj):`(~?)([^`]+)`")
SECTIONS = ("Parameters", "Attributes", "Returns", "Yields", "Raises", "Notes", "Examples")


def markdown(text: str) -> str:
    """``text`` (a cleaned docstring) with its roles and NumPy sections as Markdown."""
    text = ROLE.sub(lambda m: f"`{m[2].rsplit('.', 1)[-1] if m[1] else m[2]}`", text)
    lines, out, i = text.split("\n"), [], 0
    while i < len(lines):
        if _is_header(lines, i):
            i = _section(lines, i, out)
        else:
            out.append(lines[i])
            i += 1
    return "\n".join(out)


HEAD = re.compile(r"[A-Za-z_][\w.]*(, [A-Za-z_][\w.]*)*( : .+)?")
"""An entry's first line: ``name : type``, ``name1, name2 : type`` or a bare name or type."""


def _is_header(lines: list[str], i: int) -> bool:
    return (lines[i].strip() in SECTIONS and i + 1 < len(lines)
            and re.fullmatch(r"\s*-{3,}\s*", lines[i + 1]) is not None)


def _section(lines: list[str], i: int, out: list[str]) -> int:
    """Append the section whose header is ``lines[i]`` to ``out``; the index after it (the
    next header, or a paragraph at the header's indentation that is no entry)."""
    title, indent = lines[i].strip(), len(lines[i]) - len(lines[i].lstrip())
    out += [f"**{title}**", ""]
    i += 2
    body: list[str] = []
    while i < len(lines) and not _is_header(lines, i):
        line = lines[i]
        top = line.strip() and len(line) - len(line.lstrip()) <= indent
        if top and title not in ("Notes", "Examples") and not HEAD.fullmatch(line.strip()):
            break
        body.append(line)
        i += 1
    if title == "Examples":
        out += ["```pycon", *[line[indent:] for line in body if line.strip()], "```"]
    elif title == "Notes":
        out += body
    else:
        out += _entries(body, indent)
    out.append("")
    return i


def _entries(body: list[str], indent: int) -> list[str]:
    """A Markdown list item per entry of ``body``: ``- `name` (type): description``."""
    items: list[list[str]] = []
    for line in filter(str.strip, body):
        if len(line) - len(line.lstrip()) <= indent:
            items.append([line.strip()])
        else:
            items[-1].append(line.strip())
    out = []
    for head, *text in items:
        name, _, kind = head.partition(" : ")
        label = f"`{name}` ({kind})" if kind else f"`{name}`"
        out.append(f"- {label}" + (f": {' '.join(text)}" if text else ""))
    return out


class Docstrings(griffe.Extension):
    """Rewrite every docstring with :func:`markdown` as Griffe loads it."""

    def on_instance(self, *, obj: griffe.Object, **kwargs) -> None:
        if obj.docstring is not None:
            obj.docstring.value = markdown(obj.docstring.value)
