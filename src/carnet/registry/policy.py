"""Recognise attribute names that fall in a category Carnet refuses to store, in English and Spanish.

National card systems have tied food to votes and filed party membership next to medical history.
Carnet refuses, by construction, to hold attributes in the categories below. This module only
recognises them: it is pure (standard library, no clock, no environment, no I/O).

How a name is read: Unicode NFKD with accents dropped, camelCase and PascalCase split, split on
anything that is not a letter or digit, letters split from digits (`voted2018` -> `voted 2018`),
casefolded. The tokens are then matched against one table per category:

* words     -- whole tokens; an entry with a space is a run of consecutive tokens (`x handle`);
* prefixes  -- stems a token may start with (`vot` hits `voted` and `votacion`, not `devoted`);
* compounds -- strings looked for anywhere in the tokens glued together, so that glued names
               (`huelladactilar`, `facebookprofile`, `partidopolitico`) are caught. In free text they
               are looked for inside each word, or from the start of a word across the next few.

Short or common strings stay whole words: as a compound `race` would hit `tracer` and `face` would
hit `surface`. A few legitimate phrases (`third party`, `politica social`, `face to face`) are
masked before matching. When a name falls in several categories the first in enum order wins.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType


class ProhibitedCategory(StrEnum):
    """A kind of attribute Carnet never stores, whatever its name or language."""

    VOTING = "voting_or_elections"
    POLITICAL = "political_opinion_or_party"
    RELIGION = "religion"
    ETHNICITY = "ethnicity_or_race"
    SEXUAL_LIFE = "sexual_life_or_orientation"
    TRADE_UNION = "trade_union_membership"
    SOCIAL_MEDIA = "social_media"
    BIOMETRIC = "biometric_template"
    LOCATION_TRACKING = "location_tracking"


CATEGORY_LABELS: dict[ProhibitedCategory, str] = {
    ProhibitedCategory.VOTING: "voting or elections",
    ProhibitedCategory.POLITICAL: "political opinion or party",
    ProhibitedCategory.RELIGION: "religion",
    ProhibitedCategory.ETHNICITY: "ethnicity or race",
    ProhibitedCategory.SEXUAL_LIFE: "sexual life or orientation",
    ProhibitedCategory.TRADE_UNION: "trade-union membership",
    ProhibitedCategory.SOCIAL_MEDIA: "social-media accounts or activity",
    ProhibitedCategory.BIOMETRIC: "biometric templates",
    ProhibitedCategory.LOCATION_TRACKING: "location tracking",
}


@dataclass(frozen=True)
class _Terms:
    """The words, prefixes and compounds that place a name in one category."""

    words: frozenset[str] = frozenset()
    prefixes: tuple[str, ...] = ()
    compounds: tuple[str, ...] = ()


# The tables are kept as grouped rows, which read as word lists; the formatter would put one per line.
# fmt: off
_VOTING = _Terms(
    words=frozenset({
        "ballot", "ballots", "election", "elections", "elecciones",
        # "eleccion" can also mean "choice", but a registry field named so is far likelier an election.
        "eleccion",
        "referendum", "referendo", "referendos", "plebiscite", "plebiscito",
        "cne",  # Consejo Nacional Electoral (Venezuela)
    }),
    # "vot" is safe as a token prefix: "devoted" and "devoto" do not start with it.
    # "elector" hits "electoral"/"electorado" but not "electricity"/"electricidad"/"electronico"/"selector".
    prefixes=("vot", "elector"),
    compounds=(
        "votacion", "votante", "voter", "electoral", "sufrag", "suffrag",
        "pollingstation", "pollingplace", "miembrodemesa",
        # The Carnet de la Patria and the "puntos rojos" beside polling centres were used to check who voted.
        "carnetdelapatria", "carnetpatria", "puntorojo",
    ),
)

_POLITICAL = _Terms(
    words=frozenset({
        # "party" is refused although data models call a person-or-organisation a "party"; see the masks.
        "party", "parties",
        "opositor", "opositora", "opositores", "opositoras",  # not a compound: "propositoretiro"
        "oficialista", "oficialismo", "simpatizante", "simpatizantes",
        "izquierdista", "derechista", "comunista", "communist", "socialista", "socialist",
        "anarquista", "anarchist", "fascista", "fascist",
        "peronista", "kirchnerista", "sandinista", "uribista", "madurista",
    }),
    # "partido" only as a prefix: as a compound it would hit "repartido"/"repartidor"; "partida" (a birth
    # certificate), "participante" and "partial" stay allowed because "parti" is no stem here.
    prefixes=("partido", "partidari", "partidist"),
    compounds=(
        # "politic" covers political, politico, politica ("politica social" is masked below).
        "politic", "ideolog", "partisan",
        "militan",  # militante, militancia; not "militar" (military service is a legitimate field)
        "chavista", "chavismo", "psuv", "ubch",
        "leftwing", "rightwing", "leftrightscale", "izquierdaderecha",
        "partymember", "partyaffil", "afiliacionpartid",
    ),
)

_RELIGION = _Terms(
    words=frozenset({
        "faith", "creed", "credo", "islam", "hindu", "hindus", "sikh", "budista", "budismo",
        "ateo", "atea", "ateos", "judio", "judia", "judios", "judias",
        "christian", "christians", "christianity", "cristiano", "cristiana", "cristianos", "cristianas",
        "cristianismo", "bautismo", "bautizo",
    }),
    prefixes=("bautiz", "baptis", "baptiz"),
    # "parroquia"/"parish" are administrative divisions and stay allowed.
    compounds=(
        "religi", "iglesia", "church", "mosque", "mezquita", "synagog", "sinagog",
        "catolic", "catholic", "evangel", "protestant", "pentecost", "adventist", "mormon", "jehova",
        "musulman", "muslim", "islamic", "jewish", "judaism", "hinduism", "buddhis", "atheis", "agnostic",
        "santeria",
    ),
)

_ETHNICITY = _Terms(
    words=frozenset({
        # Whole words only: as compounds "race" would hit "tracer" and "raza" would hit "embarazada".
        "race", "races", "raza", "razas", "caste",
        "tribe", "tribes", "tribu", "tribus", "tribal",
        "afro", "mestizo", "mestiza", "mestizos", "mulato", "mulata", "zambo",
        "gitano", "gitana", "gitanos", "romani",
        "aborigen", "aborigenes", "aboriginal", "ancestry", "ascendencia",
    }),
    # "indigena"/"indigenous" but not the stem "indigen": "indigente"/"indigent" is a poverty status.
    compounds=(
        "ethnic", "etnia", "etnic", "racial", "indigenous", "indigena",
        "afrodescend", "afroamerican", "afrocolombian", "afrovenezolan", "afroecuatorian", "afroperuan",
        "afrolatin", "afrobrasil", "afrocarib",
        "skincolo", "skintone", "colorofskin", "colourofskin", "colordepiel", "colordelapiel", "colorpiel",
        "tonodepiel", "tonopiel", "pueblooriginario", "pueblosoriginario", "firstnation",
    ),
)

_SEXUAL_LIFE = _Terms(
    # "sex"/"sexo" (the person's sex) are legitimate, so no entry is just "sex"; "sexual" is refused
    # wherever it appears (orientation, vida sexual, homosexual, bisexual, salud sexual...).
    words=frozenset({"gay", "gays", "queer"}),
    compounds=(
        "sexual", "homosex", "lgbt", "lesbian", "sexlife", "samesex", "mismosexo",
        "sexorient", "orientacionsex",
    ),
)

_TRADE_UNION = _Terms(
    # "union" alone is not refused: "union libre", "civil union" and "union de hecho" are marital states.
    words=frozenset({"gremio", "gremios", "gremial", "gremialista"}),
    prefixes=("unioniz", "unionis"),
    compounds=(
        "sindicato", "sindical",  # not "sindicat": "sindicatura" is a municipal office
        "tradeunion", "laborunion", "labourunion", "workersunion", "unionmember", "memberofunion",
        "uniondues", "unionaffil",
    ),
)

_SOCIAL_MEDIA = _Terms(
    words=frozenset({
        "fb", "tweet", "tweets", "hashtag", "hashtags", "followers",
        "xhandle", "x handle", "x account", "x profile", "x username",
        # Phrases, not compounds: glued "socialmedia" would hit "social_mediator", "redsocial" would hit
        # "registered_social" and "mediossociales" would hit "remedios_sociales".
        "social media", "red social", "medios sociales", "social networking",
    }),
    prefixes=("socialmedia", "redsocial", "mediossociales", "socialnetworking"),
    # A WhatsApp or Telegram number is a contact channel and stays allowed; their groups are not.
    compounds=(
        "facebook", "twitter", "instagram", "tiktok", "snapchat", "linkedin", "youtube", "reddit",
        "pinterest", "mastodon", "redessociales",
        # "social network" alone may be a person's support network; its profiles and accounts are not.
        "socialnetworkprofile", "socialnetworkaccount", "socialnetworksite",
        "whatsappgroup", "whatsappchannel", "grupowhatsapp", "grupodewhatsapp", "gruposwhatsapp",
        "gruposdewhatsapp", "telegramgroup", "telegramchannel", "grupotelegram", "grupodetelegram",
        "canaltelegram", "canaldetelegram",
    ),
)

_BIOMETRIC = _Terms(
    # "face" variants are whole words only: as a compound "face" would hit "surface" and "interface".
    words=frozenset({
        "face", "faceid", "facescan", "faceimage", "facetemplate", "facephoto",
        "iris", "dna", "adn", "minutiae", "genome", "genoma",
    }),
    prefixes=("genom",),  # not a compound: "age_nombre" glues to "agenombre"
    compounds=(
        "biometr", "fingerprint", "dactilar", "dactilosc", "huella", "thumbprint", "palmprint",
        "voiceprint", "faceprint", "facial", "rostro", "irisscan", "iristemplate", "retinascan",
        "retinalscan", "voicesample", "muestradevoz", "dnasample", "dnaprofile", "muestradeadn",
        "muestraadn", "pruebadeadn", "perfilgenetico",
    ),
)

_LOCATION_TRACKING = _Terms(
    # Plain address fields (address, direccion, municipio, parroquia, "location", "ubicacion") stay allowed;
    # coordinates, traces and tracking do not.
    words=frozenset({
        "lat", "lng", "lon", "latlng", "latlon", "latlong", "lnglat", "lonlat",
        # Whole words: "longitudinal" (a survey panel) must pass. "longitud" is also a child's length in
        # growth monitoring; such a field should be called "talla".
        "longitud", "longitudes",
        "coordinates", "coordenadas", "coords", "geocoordinates",
        "tracking", "tracker", "trackers",
    }),
    prefixes=("rastre", "geohash"),  # a token prefix, not a compound: "arrastre" is trawl fishing
    compounds=(
        "gps", "latitud", "longitude", "geoloc", "georef", "georref", "geopos", "geotag", "geofenc",
        "geocerca", "celltower", "torrecelular",
        "locationhistory", "locationtrac", "currentlocation", "livelocation", "knownlocation",
        "realtimelocation", "locationping",
        "ubicacionactual", "ubicacionentiemporeal", "historialdeubicacion", "historialubicacion",
        "seguimientodeubicacion", "seguimientoubicacion",
    ),
)

_TABLES: Mapping[ProhibitedCategory, _Terms] = MappingProxyType({
    ProhibitedCategory.VOTING: _VOTING,
    ProhibitedCategory.POLITICAL: _POLITICAL,
    ProhibitedCategory.RELIGION: _RELIGION,
    ProhibitedCategory.ETHNICITY: _ETHNICITY,
    ProhibitedCategory.SEXUAL_LIFE: _SEXUAL_LIFE,
    ProhibitedCategory.TRADE_UNION: _TRADE_UNION,
    ProhibitedCategory.SOCIAL_MEDIA: _SOCIAL_MEDIA,
    ProhibitedCategory.BIOMETRIC: _BIOMETRIC,
    ProhibitedCategory.LOCATION_TRACKING: _LOCATION_TRACKING,
})

# Legitimate phrases, taken out before matching: their tokens take part in no word, prefix or compound.
_ALLOWED_PHRASES: tuple[tuple[str, ...], ...] = tuple(
    tuple(phrase.split())
    for phrase in (
        "third party", "third parties", "responsible party",
        # "politica" is both "politics" and "policy" in Spanish.
        "politica social", "politicas sociales", "politica publica", "politicas publicas",
        "politica de privacidad",
        "face to face", "cara a cara",
        "tracking number", "tracking code",
        # In social work a "red social de apoyo" is a person's support network, not social media.
        "red social de apoyo", "redes sociales de apoyo",
    )
)
# fmt: on


# In free text a compound is looked for inside each word, or from the start of a word across at most
# this many words; never in the whole text glued together, where unrelated neighbours form compounds
# ("cuervo terreno" glues to "...voter...").
_TEXT_WINDOW = 5


def _strip_accents(text: str) -> str:
    """`text` in NFKD form without its combining marks."""
    return "".join(char for char in unicodedata.normalize("NFKD", text) if not unicodedata.combining(char))


def _tokens(text: str) -> list[str]:
    """The casefolded tokens of `text`, split on non-alphanumerics, case changes and letter/digit changes."""
    text = _strip_accents(text)
    tokens: list[str] = []
    current = ""
    for index, char in enumerate(text):
        if not char.isalnum():
            if current:
                tokens.append(current)
            current = ""
            continue
        if current:
            previous = current[-1]
            following = text[index + 1] if index + 1 < len(text) else ""
            if (
                previous.isdigit() != char.isdigit()
                or (previous.islower() and char.isupper())
                or (previous.isupper() and char.isupper() and following.islower())
            ):
                tokens.append(current)
                current = ""
        current += char
    if current:
        tokens.append(current)
    return [token.casefold() for token in tokens]


def _starts_at(tokens: Sequence[str], index: int, phrase: Sequence[str]) -> bool:
    """Whether `phrase` occurs in `tokens` starting at `index`."""
    return tuple(tokens[index : index + len(phrase)]) == tuple(phrase)


def _segments(tokens: Sequence[str]) -> list[list[str]]:
    """The runs of tokens left once every allowed phrase is taken out."""
    segments: list[list[str]] = [[]]
    index = 0
    while index < len(tokens):
        phrase = next((p for p in _ALLOWED_PHRASES if _starts_at(tokens, index, p)), None)
        if phrase is None:
            segments[-1].append(tokens[index])
            index += 1
        else:
            segments.append([])
            index += len(phrase)
    return [segment for segment in segments if segment]


def _matches(terms: _Terms, segments: Sequence[Sequence[str]], glued: Sequence[str], leading: Sequence[str]) -> bool:
    """Whether a word or prefix of `terms` is in the segments, or a compound in or leading a glued piece."""
    phrases = [word.split() for word in terms.words if " " in word]
    for segment in segments:
        for index, token in enumerate(segment):
            if token in terms.words or token.startswith(terms.prefixes):
                return True
            if any(_starts_at(segment, index, phrase) for phrase in phrases):
                return True
    if any(compound in piece for piece in glued for compound in terms.compounds):
        return True
    return any(piece.startswith(terms.compounds) for piece in leading)


def _category(
    segments: Sequence[Sequence[str]], glued: Sequence[str], leading: Sequence[str] = ()
) -> ProhibitedCategory | None:
    """The first category, in enum order, whose table matches."""
    for category, terms in _TABLES.items():
        if _matches(terms, segments, glued, leading):
            return category
    return None


def prohibited_category(name: str) -> ProhibitedCategory | None:
    """The prohibited category a field name falls in, or None when it is allowed."""
    segments = _segments(_tokens(name))
    return _category(segments, ["".join(segment) for segment in segments])


def prohibited_category_in_text(text: str) -> ProhibitedCategory | None:
    """The prohibited category named anywhere in free text (a description, an enum value), or None."""
    segments = _segments(_tokens(text))
    words = [token for segment in segments for token in segment]
    leading = ["".join(segment[start : start + _TEXT_WINDOW]) for segment in segments for start in range(len(segment))]
    return _category(segments, words, leading)
