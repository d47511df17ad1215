"""The URL a routed request goes to on the receiver's side, and the one URL-shape quirk of receivers
the hub learns.

* An object URL is the receiver's module endpoint (a trailing ``/`` dropped) followed by the clean
  suffix from path confinement: never a ``//``.
* A collection (a list GET, a CDR POST) is the endpoint exactly as the receiver advertised it, whether
  the caller wrote the hub's URL with a trailing slash or without: the hub advertises its own URLs
  ending in ``/``, so the caller's slash says nothing about what the receiver wants.
* Some receivers advertise ``.../tariffs`` but answer it only as ``.../tariffs/`` (or the reverse), with
  a redirect to that twin. The hub follows no redirect; it passes the redirect back (rebased on the
  hub) and remembers the twin for that endpoint, so the caller's next request, through the hub, reaches
  the form the receiver serves. A redirect to anything but the twin teaches nothing.
"""

from __future__ import annotations

from urllib.parse import urljoin, urlsplit

REDIRECTS = frozenset({301, 302, 303, 307, 308})


def slash_twin(url: str) -> str:
    """``url`` with its trailing slash added or removed (the query is not part of ``url``)."""
    return url[:-1] if url.endswith("/") else url + "/"


def redirects_to_twin(sent: str, location: str) -> bool:
    """Whether ``location`` (maybe relative) is ``sent`` with only the trailing slash of its path
    added or removed: same scheme, host, port and query."""
    target = urlsplit(urljoin(sent, location.strip()))
    origin = urlsplit(sent)
    return (
        (target.scheme, target.netloc, target.query) == (origin.scheme, origin.netloc, origin.query)
        and target.path != origin.path
        and target.path.rstrip("/") == origin.path.rstrip("/")
    )


class CollectionUrls:
    """Per receiver endpoint: the form its collection answers to (as advertised unless learned)."""

    __slots__ = ("_limit", "_twins")

    def __init__(self, limit: int = 100_000) -> None:
        self._twins: dict[str, str] = {}
        self._limit = limit

    def url(self, endpoint: str, suffix: str) -> str:
        if suffix:
            return endpoint.rstrip("/") + suffix
        return self._twins.get(endpoint, endpoint)

    def learn(self, endpoint: str, sent: str, status: int, location: str | None) -> bool:
        """After the receiver answered the collection URL ``sent`` (query included): True when it was a
        redirect to the slash twin, which is then what this endpoint's collection is called as."""
        if status not in REDIRECTS or location is None or not redirects_to_twin(sent, location):
            return False
        current = self._twins.get(endpoint, endpoint)
        if len(self._twins) >= self._limit and endpoint not in self._twins:
            self._twins.clear()  # endpoints are few; a flood of new ones costs a relearn, not memory
        self._twins[endpoint] = slash_twin(current)
        return True
