"""Spec constraints as ``Annotated`` aliases, defined once, so that a check names the field and the rule.

``CiString(n)``/``string(n)`` become length limits (CiString: printable ASCII only); DateTime follows
the transport chapter's RFC 3339 subset (UTC, optional fraction, optional ``Z``); numbers are
``Decimal`` so that checking never rounds what the partner sent.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated

from msgspec import Meta

_ASCII = "^[\\x20-\\x7e]*$"

CiString = Annotated[str, Meta(pattern=_ASCII)]
CiString2 = Annotated[str, Meta(max_length=2, pattern=_ASCII)]
CiString3 = Annotated[str, Meta(max_length=3, pattern=_ASCII)]
CiString4 = Annotated[str, Meta(max_length=4, pattern=_ASCII)]
CiString5 = Annotated[str, Meta(max_length=5, pattern=_ASCII)]
CiString25 = Annotated[str, Meta(max_length=25, pattern=_ASCII)]
CiString32 = Annotated[str, Meta(max_length=32, pattern=_ASCII)]
CiString36 = Annotated[str, Meta(max_length=36, pattern=_ASCII)]
CiString39 = Annotated[str, Meta(max_length=39, pattern=_ASCII)]
CiString48 = Annotated[str, Meta(max_length=48, pattern=_ASCII)]
CiString255 = Annotated[str, Meta(max_length=255, pattern=_ASCII)]
CiString512 = Annotated[str, Meta(max_length=512, pattern=_ASCII)]

String2 = Annotated[str, Meta(max_length=2)]
String3 = Annotated[str, Meta(max_length=3)]
String4 = Annotated[str, Meta(max_length=4)]
String5 = Annotated[str, Meta(max_length=5)]
String10 = Annotated[str, Meta(max_length=10)]
String12 = Annotated[str, Meta(max_length=12)]
String16 = Annotated[str, Meta(max_length=16)]
String20 = Annotated[str, Meta(max_length=20)]
String36 = Annotated[str, Meta(max_length=36)]
String39 = Annotated[str, Meta(max_length=39)]
String45 = Annotated[str, Meta(max_length=45)]
String48 = Annotated[str, Meta(max_length=48)]
String50 = Annotated[str, Meta(max_length=50)]
String64 = Annotated[str, Meta(max_length=64)]
String100 = Annotated[str, Meta(max_length=100)]
String255 = Annotated[str, Meta(max_length=255)]
String512 = Annotated[str, Meta(max_length=512)]
String5000 = Annotated[str, Meta(max_length=5000)]

Url = Annotated[str, Meta(max_length=255)]
DateTime = Annotated[str, Meta(pattern="^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\\.[0-9]+)?Z?$")]
Date = Annotated[str, Meta(pattern="^[12][0-9]{3}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$")]
TimeOfDay = Annotated[str, Meta(pattern="^([0-1][0-9]|2[0-4]):[0-5][0-9]$")]
Number = Decimal
Weekday = Annotated[int, Meta(ge=1, le=7)]

# 2.1.1 demands exactly six decimals; 2.2 relaxed it to five to seven.
Latitude6 = Annotated[str, Meta(max_length=10, pattern="^-?[0-9]{1,2}\\.[0-9]{6}$")]
Longitude6 = Annotated[str, Meta(max_length=11, pattern="^-?[0-9]{1,3}\\.[0-9]{6}$")]
Latitude = Annotated[str, Meta(max_length=10, pattern="^-?[0-9]{1,2}\\.[0-9]{5,7}$")]
Longitude = Annotated[str, Meta(max_length=11, pattern="^-?[0-9]{1,3}\\.[0-9]{5,7}$")]

# 2.3.0 OpenEnum: any string; the known values are documented, unknown ones must pass.
OpenEnum = Annotated[str, Meta(min_length=1, max_length=255)]
