"""English number words: cardinals, ordinals, years, digit strings (no dependency)."""

from __future__ import annotations

ONES = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
        "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen",
        "eighteen", "nineteen")
TENS = ("", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety")
SCALES = ((10**12, "trillion"), (10**9, "billion"), (10**6, "million"), (1000, "thousand"))
ORDINAL_WORDS = {"one": "first", "two": "second", "three": "third", "five": "fifth",
                 "eight": "eighth", "nine": "ninth", "twelve": "twelfth"}


def cardinal(number: int) -> str:
    """1234 → "one thousand two hundred thirty four" (no "and", as US English)."""
    if number < 0:
        return "minus " + cardinal(-number)
    if number < 20:
        return ONES[number]
    if number < 100:
        tens, ones = divmod(number, 10)
        return TENS[tens] + (f" {ONES[ones]}" if ones else "")
    if number < 1000:
        hundreds, rest = divmod(number, 100)
        return f"{ONES[hundreds]} hundred" + (f" {cardinal(rest)}" if rest else "")
    for size, name in SCALES:
        if number >= size:
            high, rest = divmod(number, size)
            return f"{cardinal(high)} {name}" + (f" {cardinal(rest)}" if rest else "")
    raise AssertionError(number)


def ordinal(number: int) -> str:
    """21 → "twenty first"."""
    words = cardinal(number).split()
    last = words[-1]
    if last in ORDINAL_WORDS:
        words[-1] = ORDINAL_WORDS[last]
    elif last.endswith("y"):
        words[-1] = last[:-1] + "ieth"
    else:
        words[-1] = last + "th"
    return " ".join(words)


def year(number: int) -> str:
    """1984 → "nineteen eighty four", 1905 → "nineteen oh five", 2000 → "two thousand",
    2008 → "two thousand eight", 2024 → "twenty twenty four"."""
    if number < 1000 or number > 9999:
        return cardinal(number)
    high, low = divmod(number, 100)
    if low == 0:
        return cardinal(number) if high % 10 == 0 else f"{cardinal(high)} hundred"
    if 2000 <= number < 2010:
        return cardinal(number)
    return f"{cardinal(high)} " + (f"oh {ONES[low]}" if low < 10 else cardinal(low))


def plural(words: str) -> str:
    """The last word made plural, for decades: "nineteen ninety" → "nineteen nineties"."""
    head, _, last = words.rpartition(" ")
    last = last[:-1] + "ies" if last.endswith("y") else last + "s"
    return f"{head} {last}".strip()


def digits(text: str) -> str:
    """"0815" → "zero eight one five"."""
    return " ".join(ONES[int(char)] for char in text if char.isdigit())


def parse_int(text: str) -> int:
    return int(text.replace(",", ""))


def decimal(text: str) -> str:
    """"1,234.50" → "one thousand two hundred thirty four point five zero"."""
    whole, _, fraction = text.partition(".")
    spoken = cardinal(parse_int(whole)) if whole else ""
    if fraction:
        spoken = f"{spoken} point {digits(fraction)}".strip()
    return spoken
