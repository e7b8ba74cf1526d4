"""An independent consent check, written from the raw-data contract and nothing else: it reads the
landing files with the standard library and pandas (never with `landing/` or dbt), fails closed on
everything it cannot read, and says which addresses may be e-mailed. Tests compare every export
and every ESP list against it; `python -m warehouse.consent_audit` does it for a finished run.

An address may be mailed only when it belongs to a CRM contact whose latest readable version before
as_of says an explicit yes, and nothing forbids it. Forbidden: every address named — directly or
through its contact — by an unsubscribe, complaint or bounce (in any spelling that carries those
words), by any privacy request, by a CRM row that cannot be placed in time and does not say yes, or
found in a line of CRM, privacy or consent-looking e-mail events too broken to parse. Only an
unsubscribe or opt-out with a readable date is lifted, by an explicit opt-in after it (a CRM version
whose flag turns to yes, README "Consent and erasure"). A fact dated after as_of but plausibly (no
later than a day after the check runs) has not happened yet; an unreadable date is a date in doubt,
and doubt forbids."""

from __future__ import annotations

import argparse
import csv
import gzip
import json
import re
import sys
import unicodedata
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd

CONSENT_WORDS = re.compile(
    r"unsub|optout|optedout|donotemail|donotmail|donotcontact|complain|spam|abuse|bounce"
)
ADDRESS = re.compile(r"[a-z0-9._%+'-]+@[a-z0-9.-]+\.[a-z]{2,}")
YES = {"yes", "y", "true", "t", "1"}
DATE_FORMATS = ("%d/%m/%Y %H:%M:%S", "%d/%m/%Y %H:%M", "%d/%m/%Y", "%d.%m.%Y")


def normal_address(value) -> str | None:
    """Lower case, without any whitespace, control or formatting character."""
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return None
    text = "".join(ch for ch in str(value) if unicodedata.category(ch)[0] not in "ZC" and not ch.isspace())
    return text.lower() or None


def clean(value) -> str | None:
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return None
    text = "".join(ch for ch in str(value) if unicodedata.category(ch)[0] != "C").strip()
    text = text.strip("\u00a0\u200b\u200c\u200d\u2060\ufeff\u3000\u202f ")
    return text or None


def letters(value) -> str:
    return re.sub(r"[^a-z]", "", str(value or "").lower())


def says_yes(value) -> bool:
    """An explicit yes in any of the contract's spellings (yes, y, true, t, 1), blanks ignored."""
    return re.sub(r"[^a-z0-9]", "", str(value or "").lower()) in YES


def parse_time(value) -> datetime | None:
    """The documented forms only (docs/conventions.md), as naive UTC; None when it is not one."""
    text = clean(value)
    if text is None:
        return None
    if re.fullmatch(r"1[0-9]{9}", text):
        return datetime.fromtimestamp(int(text), UTC).replace(tzinfo=None)
    if re.fullmatch(r"(19|20)[0-9]{2}-[0-9]{2}-[0-9]{2}([T ].*)?", text):
        try:
            parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            return None
        return parsed.astimezone(UTC).replace(tzinfo=None) if parsed.tzinfo else parsed
    for form in DATE_FORMATS:
        try:
            return datetime.strptime(text, form)
        except ValueError:
            continue
    return None


@dataclass
class Verdict:
    """Who may be mailed, who must not, and why (address -> reasons)."""

    allowed: set[str] = field(default_factory=set)
    forbidden: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))

    def violations(self, exported: set[str]) -> dict[str, set[str]]:
        """Exported addresses that are forbidden or were never allowed, with the reasons."""
        found = {}
        for address in exported:
            if address in self.forbidden:
                found[address] = self.forbidden[address]
            elif address not in self.allowed:
                found[address] = {"no explicit opt-in in the latest CRM version"}
        return found


def _table_files(landing: Path, source: str, table: str) -> list[Path]:
    folder = landing / source
    if not folder.exists():
        return []
    return sorted(
        path
        for path in folder.rglob("*")
        if path.is_file()
        and not path.name.startswith(".")
        and (
            path.name.split(".")[0] == table or path.name.startswith(f"{table}_") or table in path.parts[:-1]
        )
    )


def _text(path: Path) -> str:
    raw = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
    return raw.decode("utf-8", errors="replace")


def _physical_lines(text: str) -> list[str]:
    """Lines as a \\n-terminated file has them: a carriage return inside a line stays in it (a reader
    that split there would cut a broken record in two and miss the address in one half)."""
    if "\n" not in text:
        return text.split("\r")
    return [line.removesuffix("\r") for line in text.split("\n")]


def _rows(path: Path) -> Iterator[tuple[dict | None, str]]:
    """(row as a dict of lower-cased column -> text, raw line) for every record; None for a record
    that cannot be read as one, with its raw text."""
    name = path.name.removesuffix(".gz")
    if name.endswith(".parquet"):
        frame = pd.read_parquet(path)
        frame.columns = [c.strip().lower() for c in frame.columns]
        for record in frame.astype(object).where(frame.notna(), None).to_dict("records"):
            yield (
                {k: (None if v is None else str(v)) for k, v in record.items()},
                json.dumps(record, default=str),
            )
        return
    text = _text(path)
    if name.endswith((".jsonl", ".json", ".ndjson")):
        for line in _physical_lines(text):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except ValueError:
                yield None, line
                continue
            if not isinstance(record, dict):
                yield None, line
                continue
            yield {str(k).strip().lower(): (None if v is None else str(v)) for k, v in record.items()}, line
        return
    lines = _physical_lines(text)
    if not lines:
        return
    delimiter = max((",", ";", "\t", "|"), key=lines[0].count)
    header = [h.strip().lower() for h in next(csv.reader([lines[0]], delimiter=delimiter))]
    for line in lines[1:]:
        if not line.strip():
            continue
        try:
            values = next(csv.reader([line], delimiter=delimiter, strict=True))
        except csv.Error:
            yield None, line
            continue
        if len(values) != len(header) or line.count('"') % 2:
            yield None, line
            continue
        yield dict(zip(header, values, strict=True)), line


@dataclass
class _Fact:
    """One consent fact read from a landed row: who it names, when (None: in doubt), and whether a
    later explicit opt-in may lift it (an unsubscribe or opt-out may; a complaint, a bounce, an
    erasure or a fact in doubt never does)."""

    contact: str | None
    address: str | None
    when: datetime | None
    liftable: bool
    bounce: bool
    reason: str


def _opt_in_acts(versions: list[tuple[datetime, bool, datetime | None]], signed_up: datetime | None) -> list:
    """When the contact opted in: each version whose flag turns to yes (same-time versions say yes
    only if all do), at its opt_in_at when that lies after the previous version, not before sign-up
    and not after the version, else at the version's time."""
    by_time: dict[datetime, list[tuple[bool, datetime | None]]] = defaultdict(list)
    for when, yes_then, opt_in_at in versions:
        by_time[when].append((yes_then, opt_in_at))
    acts, previous, said_yes = [], None, False
    for when in sorted(by_time):
        yes_then = all(yes for yes, _ in by_time[when])
        if yes_then and not said_yes:
            stamps = [at for _, at in by_time[when] if at is not None]
            opt_in_at = max(stamps) if stamps else None
            plausible = (
                opt_in_at is not None
                and opt_in_at <= when
                and (previous is None or opt_in_at > previous)
                and (signed_up is None or opt_in_at >= signed_up)
            )
            acts.append(opt_in_at if plausible else when)
        said_yes, previous = yes_then, when
    return acts


def must_not_mail(landing: Path, as_of: datetime, now: datetime | None = None) -> Verdict:
    """The verdict from the landing files alone."""
    now = now or datetime.now(UTC).replace(tzinfo=None)
    not_yet_until = max(as_of, now) + timedelta(days=1)
    verdict = Verdict()
    addresses_of: dict[str, set[str]] = defaultdict(set)
    versions: dict[str, list[tuple[datetime, bool, datetime | None]]] = defaultdict(list)
    current: dict[str, tuple[datetime, str | None]] = {}
    signed_up: dict[str, datetime] = {}
    facts: list[_Fact] = []

    def forbid(address: str | None, reason: str) -> None:
        if address:
            verdict.forbidden[address].add(reason)

    def readable_rows(source: str, table: str, what: str, consent_looking=lambda raw: True):
        """The rows of a landed table that parse; every address on a line that does not (and
        might say something about consent) is forbidden."""
        for path in _table_files(landing, source, table):
            for row, raw in _rows(path):
                if row is not None:
                    yield row
                elif consent_looking(raw):
                    for found in ADDRESS.findall(raw.lower()):
                        forbid(found, f"unreadable {what} line in {path.name}")

    def moment(value) -> tuple[bool, datetime | None]:
        """(in force before as_of, its time); a time in doubt is in force from the beginning."""
        when = parse_time(value)
        if when is None or when > not_yet_until:
            return True, None
        return when < as_of, when

    for row in readable_rows("crm", "contacts", "CRM"):
        contact = clean(row.get("contact_id"))
        address = normal_address(row.get("email"))
        opted_in = says_yes(row.get("email_opt_in"))
        if contact is None:
            if not opted_in:
                forbid(address, "CRM row without contact id that does not say yes")
            continue
        if address:
            addresses_of[contact].add(address)
        signup = parse_time(row.get("signup_at"))
        if signup is not None and signup <= not_yet_until:
            signed_up[contact] = min(signup, signed_up.get(contact, signup))
        when = parse_time(row.get("updated_at"))
        if when is None or when > not_yet_until:
            if not opted_in:
                facts.append(
                    _Fact(contact, None, None, False, False, "CRM version that cannot be placed in time")
                )
            continue
        if when >= as_of:
            continue
        opt_in_at = parse_time(row.get("opt_in_at"))
        opt_in_at = opt_in_at if opt_in_at is not None and opt_in_at <= not_yet_until else None
        versions[contact].append((when, opted_in, opt_in_at))
        if contact not in current or when >= current[contact][0]:
            current[contact] = (when, address)

    last_opt_in: dict[str, datetime] = {}
    for contact, rows in versions.items():
        latest = max(when for when, _, _ in rows)
        if all(says for when, says, _ in rows if when == latest):
            verdict.allowed |= addresses_of[contact]
        else:
            facts.append(_Fact(contact, None, None, False, False, "latest CRM version does not say yes"))
        acts = _opt_in_acts(rows, signed_up.get(contact))
        if acts:
            last_opt_in[contact] = max(acts)

    def consent_looking(raw: str) -> bool:
        return bool(CONSENT_WORDS.search(letters(raw)))

    for row in readable_rows("email", "events", "consent-looking e-mail event", consent_looking):
        kind = letters(row.get("event_type"))
        if not CONSENT_WORDS.search(kind):
            continue
        in_force, when = moment(row.get("event_at"))
        if not in_force:
            continue
        permanent = bool(re.search(r"complain|spam|abuse|bounce", kind))
        facts.append(
            _Fact(
                clean(row.get("contact_id")),
                normal_address(row.get("email")),
                when,
                not permanent and when is not None,
                "bounce" in kind and not re.search(r"complain|spam|abuse", kind),
                f"e-mail event {row.get('event_type')!r} at {row.get('event_at')!r}",
            )
        )

    for row in readable_rows("privacy", "requests", "privacy request"):
        kind = letters(row.get("request_type"))
        is_erasure = bool(re.search(r"eras|delet|forget|forgot|remove", kind))
        is_opt_out = bool(re.search(r"optout|optedout|unsub|donot|object|stop", kind))
        in_force, when = moment(row.get("requested_at"))
        if not is_erasure and not in_force:
            continue
        facts.append(
            _Fact(
                clean(row.get("contact_id")),
                normal_address(row.get("email")),
                when,
                is_opt_out and not is_erasure and when is not None,
                False,
                f"privacy request {row.get('request_type')!r}",
            )
        )

    owners: dict[str, list[str]] = defaultdict(list)
    for contact, (_, address) in current.items():
        if address:
            owners[address].append(contact)

    def lifted(fact: _Fact, contacts: list[str]) -> bool:
        return (
            bool(contacts)
            and fact.liftable
            and all(last_opt_in.get(c, datetime.min) > fact.when for c in contacts)
        )

    for fact in facts:
        if fact.address and not lifted(fact, owners.get(fact.address, [])):
            forbid(fact.address, fact.reason)
        if fact.contact and not (fact.bounce and fact.address) and not lifted(fact, [fact.contact]):
            for address in addresses_of.get(fact.contact, ()):
                forbid(address, f"{fact.reason} (contact {fact.contact})")
    return verdict


def exported_addresses(export_dir: Path) -> dict[str, set[str]]:
    """Every address in every audience file under the file destination's folder, per file."""
    found = {}
    for path in sorted(export_dir.rglob("*.csv")):
        frame = pd.read_csv(path, dtype=str)
        found[str(path.relative_to(export_dir))] = {normal_address(e) for e in frame.get("email", []) if e}
    for path in sorted(export_dir.rglob("*.parquet")):
        frame = pd.read_parquet(path)
        found[str(path.relative_to(export_dir))] = {normal_address(e) for e in frame.get("email", []) if e}
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--landing", type=Path, required=True)
    parser.add_argument("--exports", type=Path, required=True, help="the file destination's folder")
    parser.add_argument("--as-of", required=True)
    args = parser.parse_args(argv)
    as_of = datetime.fromisoformat(args.as_of.replace("Z", "+00:00"))
    as_of = as_of.astimezone(UTC).replace(tzinfo=None) if as_of.tzinfo else as_of
    verdict = must_not_mail(args.landing, as_of)
    files = exported_addresses(args.exports)
    exported = set().union(*files.values()) if files else set()
    bad = verdict.violations(exported)
    print(
        f"allowed {len(verdict.allowed):,} addresses, forbidden {len(verdict.forbidden):,}; "
        f"{len(exported):,} exported in {len(files)} files; violations: {len(bad)}"
    )
    for address, reasons in sorted(bad.items())[:20]:
        print(f"  {address}: {'; '.join(sorted(reasons))}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
