"""The README's sample outputs are the program's (issue 24): every ``$ derive ...`` line in
a fenced block is run, and the lines under it must be what it prints (stdout, then
stderr), up to a line ``...`` that elides the rest.  Words and layout compare exactly;
a number compares within one unit of its last printed digit, so that a float that
differs in its last bits between CPUs, and so rounds the other way, still matches."""

import re
import shlex
from pathlib import Path

import pytest

README = Path(__file__).resolve().parent.parent / "README.md"
BLOCK = re.compile(r"^```[a-z]*\n(.*?)^```", re.S | re.M)
NUMBER = re.compile(r"[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?")


def samples(text: str) -> list[tuple[str, list[str]]]:
    """(command, the lines printed under it) for each ``$ derive`` line of each block."""
    found = []
    for block in BLOCK.findall(text):
        lines = block.splitlines()
        for i, line in enumerate(lines):
            if line.startswith("$ derive "):
                shown = []
                for after in lines[i + 1:]:
                    if after.startswith("$ "):
                        break
                    shown.append(after)
                found.append((line[2:], shown))
    return found


def _close(expected: str, actual: str) -> bool:
    """Two tokens agree: equal, or numbers within one unit of the expected one's last
    printed digit (a rounding the other way; and 1e-9 relative)."""
    if expected == actual:
        return True
    if not (NUMBER.fullmatch(expected) and NUMBER.fullmatch(actual)):
        return False
    mantissa, _, exponent = expected.lower().partition("e")
    decimals = len(mantissa.split(".")[1]) if "." in mantissa else 0
    unit = 10.0 ** (int(exponent or 0) - decimals)
    return abs(float(expected) - float(actual)) <= 1.000001 * unit + 1e-9 * abs(float(expected))


def _same_but_digits(shown: str, printed: str) -> bool:
    """The same tokens, where the same columns end, numbers within their last digit."""
    want, got = list(re.finditer(r"\S+", shown)), list(re.finditer(r"\S+", printed))
    return len(want) == len(got) and all(
        w.end() == g.end() and _close(w.group(), g.group()) for w, g in zip(want, got))


def difference(shown: list[str], printed: list[str]) -> str | None:
    """Where the README's lines and the program's first differ (None where they agree)."""
    for number, line in enumerate(shown):
        if line.strip() == "...":
            return None
        if number >= len(printed):
            return f"line {number + 1}: the README shows {line!r}, the program prints nothing"
        if line != printed[number] and not _same_but_digits(line, printed[number]):
            return f"line {number + 1}: the README shows {line!r}, the program prints {printed[number]!r}"
    if len(printed) > len(shown):
        return f"the program prints {len(printed) - len(shown)} more lines than the README shows"
    return None


SAMPLES = samples(README.read_text(encoding="utf-8"))


def test_the_readme_has_samples_to_check():
    assert len(SAMPLES) >= 3 and any(command == "derive trace" for command, _ in SAMPLES)


@pytest.mark.parametrize("command,shown", SAMPLES, ids=[c for c, _ in SAMPLES])
def test_a_readme_sample_is_what_the_command_prints(run, command, shown):
    _, out, err = run(*shlex.split(command)[1:])
    assert difference(shown, (out + err).splitlines()) is None, \
        difference(shown, (out + err).splitlines())


def test_a_planted_drift_fails(run):
    """A word changed, a number off by two units of its last digit, a column moved, a
    line dropped: each is found; a last digit rounded the other way is not."""
    command, shown = next((c, s) for c, s in SAMPLES if c == "derive trace")
    _, out, _ = run(*shlex.split(command)[1:])
    printed = out.splitlines()
    assert difference(shown, printed) is None
    row = next(i for i, line in enumerate(shown) if line.startswith("f0 "))
    for drift in (shown[row].replace("f0", "g0"), shown[row].replace("1.230", "1.232"),
                  shown[row].replace("   1.230", "  1.230")):
        planted = shown[:row] + [drift] + shown[row + 1:]
        assert difference(planted, printed) is not None, drift
    assert difference([line for line in shown if line != "..."], printed) is not None
    assert difference(shown, printed[:row] + [printed[row].replace("1.230", "1.231")]
                      + printed[row + 1:]) is None  # rounded the other way: one unit
