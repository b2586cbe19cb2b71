"""English rules applied before WeTextProcessing's grammars, for what those grammars read
wrongly or not at all (measured on tests/engine/frontend_cases.py): money with cents, numbers
with thousands separators and decimals, units it misreads ("100 m" as minutes), decades, year
ranges, "+3", "#1", versions, phone numbers with a country code, common abbreviations and
regnal numbers. Each rule says its stretch outright; the rest of the sentence goes to the
grammars. ``DEFER`` patterns (dates, times, fractions, URLs) are left whole to the grammars,
which read them well, so that no rule here cuts one apart.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from .numbers import cardinal, decimal, digits, ordinal, parse_int, plural, year

Rule = tuple[re.Pattern[str], Callable[[re.Match[str]], str | None]]

NUMBER = r"\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?|\.\d+"
MONTHS = ("January|February|March|April|May|June|July|August|September|October|November|"
          "December|Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec")


def _number(text: str) -> str:
    return decimal(text) if "." in text else cardinal(parse_int(text))


def _is_one(text: str) -> bool:
    return text.replace(",", "") == "1"


# --- money ---------------------------------------------------------------------------------
CURRENCIES = {  # symbol or code → (one, many, cent, cents)
    "$": ("dollar", "dollars", "cent", "cents"), "USD": ("dollar", "dollars", "cent", "cents"),
    "€": ("euro", "euros", "cent", "cents"), "EUR": ("euro", "euros", "cent", "cents"),
    "£": ("pound", "pounds", "penny", "pence"), "GBP": ("pound", "pounds", "penny", "pence"),
    "¥": ("yen", "yen", "", ""), "JPY": ("yen", "yen", "", ""),
    "₹": ("rupee", "rupees", "paisa", "paise"), "INR": ("rupee", "rupees", "paisa", "paise"),
}
SCALE_WORDS = {"k": "thousand", "K": "thousand", "m": "million", "M": "million",
               "mn": "million", "b": "billion", "B": "billion", "bn": "billion",
               "thousand": "thousand", "million": "million", "billion": "billion",
               "trillion": "trillion"}
SCALE = (r"(?:\s?(?P<scale>thousand|million|billion|trillion)\b|(?P<abbr>k|K|m|M|mn|b|B|bn)\b)")


def money(amount: str, currency: str, scale: str | None) -> str:
    one, many, cent, cents = CURRENCIES[currency]
    if scale:
        return f"{_number(amount)} {SCALE_WORDS[scale]} {many}"
    whole, _, fraction = amount.partition(".")
    units = parse_int(whole) if whole else 0
    if fraction and cent and len(fraction) <= 2:
        hundredths = int(fraction.ljust(2, "0"))
        said = []
        if units or not hundredths:
            said.append(f"{cardinal(units)} {one if units == 1 else many}")
        if hundredths:
            said.append(f"{cardinal(hundredths)} {cent if hundredths == 1 else cents}")
        return " and ".join(said)
    if fraction:
        return f"{decimal(amount)} {many}"
    return f"{cardinal(units)} {one if units == 1 else many}"


def _money_before(match: re.Match[str]) -> str:
    return money(match["amount"], match["cur"], match["scale"] or match["abbr"])


def _money_after(match: re.Match[str]) -> str:
    return money(match["amount"], match["code"], None)


def _money_range(match: re.Match[str]) -> str:
    many = CURRENCIES[match["cur"]][1]
    return f"{_number(match['low'])} to {_number(match['high'])} {many}"


SYMBOLS = r"(?P<cur>[$€£¥₹])"
CODES = r"(?P<code>USD|EUR|GBP|JPY|INR)"

# --- units ---------------------------------------------------------------------------------
UNITS = {  # written → (singular, plural)
    "km/h": ("kilometer per hour", "kilometers per hour"), "kph": ("kilometer per hour",
                                                                  "kilometers per hour"),
    "mph": ("mile per hour", "miles per hour"), "m/s": ("meter per second", "meters per second"),
    "km²": ("square kilometer", "square kilometers"), "m²": ("square meter", "square meters"),
    "ft²": ("square foot", "square feet"), "sq ft": ("square foot", "square feet"),
    "km": ("kilometer", "kilometers"), "cm": ("centimeter", "centimeters"),
    "mm": ("millimeter", "millimeters"), "m": ("meter", "meters"),
    "kg": ("kilogram", "kilograms"), "mg": ("milligram", "milligrams"), "g": ("gram", "grams"),
    "lb": ("pound", "pounds"), "lbs": ("pound", "pounds"), "oz": ("ounce", "ounces"),
    "mi": ("mile", "miles"), "ft": ("foot", "feet"), "yd": ("yard", "yards"),
    "ml": ("milliliter", "milliliters"), "mL": ("milliliter", "milliliters"),
    "l": ("liter", "liters"), "L": ("liter", "liters"),
    "ms": ("millisecond", "milliseconds"), "sec": ("second", "seconds"),
    "secs": ("second", "seconds"), "min": ("minute", "minutes"), "mins": ("minute", "minutes"),
    "hr": ("hour", "hours"), "hrs": ("hour", "hours"), "h": ("hour", "hours"),
    "°C": ("degree Celsius", "degrees Celsius"), "℃": ("degree Celsius", "degrees Celsius"),
    "°F": ("degree Fahrenheit", "degrees Fahrenheit"), "°": ("degree", "degrees"),
    "TB": ("terabyte", "terabytes"), "GB": ("gigabyte", "gigabytes"),
    "MB": ("megabyte", "megabytes"), "KB": ("kilobyte", "kilobytes"),
    "kB": ("kilobyte", "kilobytes"), "GHz": ("gigahertz", "gigahertz"),
    "MHz": ("megahertz", "megahertz"), "kHz": ("kilohertz", "kilohertz"),
    "Hz": ("hertz", "hertz"), "kW": ("kilowatt", "kilowatts"), "kWh": ("kilowatt hour",
                                                                     "kilowatt hours"),
    "W": ("watt", "watts"), "V": ("volt", "volts"), "mAh": ("milliamp hour", "milliamp hours"),
    "tsp": ("teaspoon", "teaspoons"), "tbsp": ("tablespoon", "tablespoons"),
    "%": ("percent", "percent"),
}
_UNIT_NAMES = "|".join(re.escape(unit) for unit in sorted(UNITS, key=len, reverse=True))


def _measure(match: re.Match[str]) -> str:
    amount, unit = match["amount"], match["unit"]
    sign = "minus " if match["sign"] else ""
    one, many = UNITS[unit]
    return f"{sign}{_number(amount)} {one if _is_one(amount) and not sign else many}"


# --- abbreviations -------------------------------------------------------------------------
TITLES = {"Mr.": "Mister", "Mrs.": "Missus", "Ms.": "Miz", "Dr.": "Doctor",
          "Prof.": "Professor", "Mt.": "Mount", "Capt.": "Captain", "Gen.": "General",
          "Lt.": "Lieutenant", "Sgt.": "Sergeant", "Col.": "Colonel", "Gov.": "Governor",
          "Sen.": "Senator", "Rep.": "Representative", "Rev.": "Reverend", "Fr.": "Father",
          "Pres.": "President", "Hon.": "Honorable"}
ENDINGS = {"Jr.": "Junior", "Sr.": "Senior", "Inc.": "Incorporated", "Ltd.": "Limited",
           "Co.": "Company", "Corp.": "Corporation", "Ave.": "Avenue", "Rd.": "Road",
           "Blvd.": "Boulevard", "Dept.": "Department", "Univ.": "University",
           "etc.": "et cetera", "vs.": "versus", "approx.": "approximately",
           "e.g.": "for example", "i.e.": "that is", "a.m.": "a m", "p.m.": "p m",
           "Fig.": "figure", "fig.": "figure", "est.": "established"}


def _title(match: re.Match[str]) -> str:
    return TITLES[match[0]]


def _ending(match: re.Match[str]) -> str:
    said = ENDINGS[match["abbr"]]
    # The abbreviation's period may also end the sentence: keep one, so chunks still cut there.
    return f"{said}." if match["end"] is not None else said


def _street_or_saint(match: re.Match[str]) -> str:
    before = match.string[:match.start()].rstrip().rpartition(" ")[2]
    if match["next"] and not before[:1].isupper():
        return "Saint"  # St. Louis
    after = match.string[match.end():]
    ends = not after.strip() or re.match(r"\s+[A-Z]", after) is not None
    return "Street." if ends else "Street"  # Baker St. (which may end the sentence)


# --- numbers in particular forms -------------------------------------------------------------
ROMAN = {"I": 1, "V": 5, "X": 10, "L": 50, "C": 100}
REGNAL = (r"\b(?P<name>King|Queen|Pope|Henry|Louis|Elizabeth|George|Edward|Charles|William|"
          r"James|Richard|John|Paul|Pius|Benedict|Leo|Gregory|Peter|Catherine|Frederick|"
          r"Philip|Napoleon|Alexander|Nicholas|Mary)\s+(?P<roman>[IVX]{1,5})\b")


def roman_value(text: str) -> int | None:
    total, previous = 0, 0
    for char in reversed(text):
        value = ROMAN[char]
        total = total - value if value < previous else total + value
        previous = max(previous, value)
    return total if 0 < total < 40 else None


def _regnal(match: re.Match[str]) -> str | None:
    value = roman_value(match["roman"])
    after = match.string[match.end():].lstrip()
    if value is None or (match["roman"] == "I" and after[:1].isalpha()):
        return None  # "Paul I think" is not Paul the first
    return f"{match['name']} the {ordinal(value)}"


def _decade(match: re.Match[str]) -> str:
    if match["short"]:
        return plural(cardinal(int(match["short"])))
    return plural(year(int(match["full"])))


def _year_range(match: re.Match[str]) -> str | None:
    low, high = int(match["low"]), match["high"]
    high_value = int(high) if len(high) == 4 else (low // 100) * 100 + int(high)
    if high_value <= low:
        return None
    return f"{year(low)} to {year(high_value)}"


YEAR_BEFORE = re.compile(r"\b(?:in|since|from|until|till|by|of|year|early|late|mid|circa|"
                         r"around|before|after|during|and|to|between|the|c\.)\W*$", re.I)


def _four_digits(match: re.Match[str]) -> str:
    """A year where it reads as one (after "in", "since"…, or before punctuation), else a
    number: "in 1905" → "nineteen oh five", "1234 apples" → "one thousand two hundred…"."""
    number = int(match[0])
    before = match.string[:match.start()]
    after = match.string[match.end():]
    looks_like_year = YEAR_BEFORE.search(before) or re.match(r"\s*(?:[,.;:!?)]|$)", after)
    return year(number) if 1100 <= number <= 2099 and looks_like_year else cardinal(number)


ROMAN_NUMBERED = re.compile(r"\b(?P<name>World War|Chapter|Part|Volume|Vol\.|Book|Act|Scene|"
                            r"Phase|Article|Title|Super Bowl|Apollo|Rocky|Star Wars Episode)"
                            r"\s+(?P<roman>[IVX]{1,5})\b")


def _roman_number(match: re.Match[str]) -> str | None:
    value = roman_value(match["roman"])
    name = "Volume" if match["name"] == "Vol." else match["name"]
    return None if value is None else f"{name} {cardinal(value)}"


def _ordinal(match: re.Match[str]) -> str:
    return ordinal(parse_int(match["n"]))


def _plain_number(match: re.Match[str]) -> str:
    return _number(match[0])


def _phone(match: re.Match[str]) -> str:
    groups = [digits(match[name]) for name in ("area", "mid", "last") if match[name]]
    country = f"plus {digits(match['country'])}, " if match["country"] else ""
    return country + ", ".join(groups)


def _version(match: re.Match[str]) -> str:
    parts = match[0].lstrip("vV").split(".")
    head = "version " if match[0][0] in "vV" else ""
    joiner = " dot " if len(parts) == 4 and not head else " point "
    return head + joiner.join(cardinal(int(part)) for part in parts)


WHOLE_PHRASES = {"24/7": "twenty four seven", "50/50": "fifty fifty", "9/11": "nine eleven",
                 "365/24/7": "three sixty five twenty four seven"}

#: Said as written, whatever they hold: code identifiers (snake_case, file names, calls) and
#: `inline code`.
AS_WRITTEN = re.compile(r"`[^`\n]+`|\b[A-Za-z]\w*_\w*\b|\b\w+\.(?:py|js|ts|json|txt|md|html|"
                        r"css|go|rs|java|cpp|c|h|sh|yml|yaml|toml|csv|exe|dll)\b|\b\w+\(\)")

#: Left whole to the grammars: no rule below may cut into these.
DEFER = re.compile("|".join([
    rf"\b(?:{MONTHS})\.?\s+\d{{1,2}}(?:st|nd|rd|th)?(?:,?\s+\d{{4}})?\b",
    rf"\b\d{{1,2}}(?:st|nd|rd|th)?\s+(?:of\s+)?(?:{MONTHS})\b\.?(?:,?\s+\d{{4}})?",
    r"\b\d{1,4}[/-]\d{1,2}[/-]\d{1,4}\b",
    r"\b\d{1,2}:\d{2}(?::\d{2})?(?:\s?[aApP]\.?[mM]\.?)?",
    r"\b\d{1,2}\s?[aApP]\.?[mM]\b\.?",
    r"\b\d+\s?/\s?\d+\b",
    r"\b\d+(?:\.\d+)?\s?[-–]\s?\d+(?:\.\d+)?\b(?!\s?(?:%|[a-zA-Z°]))",
    r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+",
    r"\b(?:https?://|www\.)\S+[\w/]",
]))

#: The first rules are more particular than the DEFER patterns and may cut through them.
BEFORE_DEFER = 8
RULES: list[Rule] = [
    (re.compile("|".join(re.escape(p) for p in WHOLE_PHRASES) + r"(?![\w/])"),
     lambda m: WHOLE_PHRASES[m[0]]),
    (re.compile(rf"(?<![\w$€£¥₹]){SYMBOLS}\s?(?P<low>{NUMBER})\s?[-–]\s?(?P=cur)?"
                rf"(?P<high>{NUMBER})(?!\w|\.\d)"), _money_range),
    (re.compile(rf"(?<![\w$€£¥₹]){SYMBOLS}\s?(?P<amount>{NUMBER}){SCALE}?(?![\w.]\w)"),
     _money_before),
    (re.compile(rf"(?<![\w.,])(?P<amount>{NUMBER})\s?{CODES}\b"), _money_after),
    (re.compile(r"(?<![\w+])(?:\+(?P<country>\d{1,3})[\s.-]?)?\(?(?P<area>\d{3})\)?[\s.-]"
                r"(?P<mid>\d{3})[\s.-](?P<last>\d{4})\b"), _phone),
    (re.compile(r"(?<![\w.])[vV]?\d+(?:\.\d+){2,3}(?![\w.]\w|\.\d)|(?<![\w.])[vV]\d+\.\d+\b"),
     _version),
    (re.compile(r"(?<![\w'])(?:'(?P<short>[1-9]0)s|(?P<full>1[1-9]\d0|20\d0)s)\b"), _decade),
    (re.compile(r"\b(?P<low>1[5-9]\d\d|20\d\d)\s?[-–]\s?(?P<high>1[5-9]\d\d|20\d\d|\d\d)\b"
                rf"(?!\s?(?:{_UNIT_NAMES})(?![\w²/]))"),
     _year_range),
    (re.compile(rf"(?<![\w.,-])(?P<sign>[-−])?(?P<amount>{NUMBER})\s?"
                rf"(?P<unit>{_UNIT_NAMES})(?![\w²/])"), _measure),
    (re.compile(r"(?<![\w.,])(?P<n>\d{1,3}(?:,\d{3})+|\d+)(?:st|nd|rd|th)\b"), _ordinal),
    (re.compile(r"(?<!\w)\+(?=\d)"), lambda m: "plus "),
    (re.compile(r"(?<![\w&])#(?=\d)"), lambda m: "number "),
    (re.compile(r"\bNo\.(?=\s?\d)"), lambda m: "number"),
    (re.compile(r"(?<![\w~])~(?=\s?\d)"), lambda m: "about "),
    (re.compile(REGNAL), _regnal),
    (ROMAN_NUMBERED, _roman_number),
    (re.compile(r"\b(?:Mr|Mrs|Ms|Dr|Prof|Mt|Capt|Gen|Lt|Sgt|Col|Gov|Sen|Rep|Rev|Fr|Pres|Hon)\."
                r"(?=\s?[A-Z]|\s+(?:and|or|&)\s)"), _title),
    (re.compile(r"\bSt\.(?=\s(?P<next>[A-Z]))?"), _street_or_saint),
    (re.compile(r"(?<!\w)(?P<abbr>" + "|".join(re.escape(a) for a in ENDINGS)
                + r")(?P<end>(?=\s*$)|(?=\s+[A-Z](?!\w*\.)))?"), _ending),
    (re.compile(rf"(?<![\w.,:/-]){NUMBER.split('|')[0]}(?![\w]|[.,]\d)"), _plain_number),
    (re.compile(r"(?<![\w.,:/-])\d+\.\d+(?![\w.]|,\d)"), _plain_number),
    (re.compile(r"(?<![\w.,:/-])\d{4}(?![\w:/]|[.,]\d|-\d)"), _four_digits),
]
