"""Recognise attribute names that fall in a category Carnet refuses to store, in Spanish, English and Portuguese.

National card systems have tied food to votes and filed party membership next to medical history.
Carnet refuses, by construction, to hold attributes in the categories below. This module only
recognises them: it is pure (standard library, no clock, no environment, no I/O).

How a name is read: Unicode NFKD with accents dropped, camelCase and PascalCase split, split on
anything that is not a letter or digit, letters split from digits (`voted2018` -> `voted 2018`),
casefolded. The tokens are then matched against one table per category:

* words     -- whole tokens, also after a plural `-s`/`-es` is dropped (`ballots` -> `ballot`); an entry
               with a space is a run of consecutive tokens (`x handle`);
* prefixes  -- stems a token may start with (`vot` hits `voted` and `votacion`, not `devoted`);
* suffixes  -- stems a token may end with (`gps` hits `coordenadasgps`);
* together  -- groups of stems that must all be present, in any order and anywhere in the name
               (`ubicacion` + `tiempo` + `real` hits `tiempo_real_ubicacion`); a stem ending in `$` is a
               whole token (after plural folding), any other is a token prefix;
* compounds -- strings looked for anywhere in the tokens glued together, so that glued names
               (`huelladactilar`, `facebookprofile`, `partidopolitico`) are caught. In free text they
               are looked for inside each word, or from the start of a word across the next few.

Short or common strings stay whole words: as a compound `race` would hit `tracer` and `face` would
hit `surface`. A few legitimate phrases (`third party`, `politica social`, `face to face`) are
masked before matching. When a name falls in several categories the first in enum order wins.
docs/formats/attribute-dictionary.md lists every stem with the reason for the hard cases, and a test
checks that it does.
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
    SURVEILLANCE_CAMERA = "camera_surveillance"
    BEHAVIOUR_SCORE = "behaviour_score"


CATEGORY_LABELS: dict[ProhibitedCategory, str] = {
    ProhibitedCategory.VOTING: "voting or elections",
    ProhibitedCategory.POLITICAL: "political opinion or party",
    ProhibitedCategory.RELIGION: "religion",
    ProhibitedCategory.ETHNICITY: "ethnicity or race",
    ProhibitedCategory.SEXUAL_LIFE: "sexual life or orientation",
    ProhibitedCategory.TRADE_UNION: "trade-union membership",
    ProhibitedCategory.SOCIAL_MEDIA: "social-media accounts or activity",
    ProhibitedCategory.BIOMETRIC: "biometric templates",
    ProhibitedCategory.LOCATION_TRACKING: "location tracking or device identifiers",
    ProhibitedCategory.SURVEILLANCE_CAMERA: "cameras or CCTV",
    ProhibitedCategory.BEHAVIOUR_SCORE: "behaviour scores or rankings of people",
}


@dataclass(frozen=True)
class _Terms:
    """The words, prefixes and compounds that place a name in one category."""

    words: frozenset[str] = frozenset()
    prefixes: tuple[str, ...] = ()
    compounds: tuple[str, ...] = ()
    suffixes: tuple[str, ...] = ()
    together: tuple[tuple[tuple[str, ...], ...], ...] = ()


# The tables are kept as grouped rows, which read as word lists; the formatter would put one per line.
# fmt: off
_VOTING = _Terms(
    words=frozenset({
        "ballot", "election", "elecciones", "eleicao", "eleicoes",
        # "eleccion" can also mean "choice", but a registry field named so is far likelier an election.
        "eleccion",
        # Not "urna": a funeral benefit pays for one.
        "referendum", "referendo", "plebiscite", "plebiscito",
        "cne",  # Consejo Nacional Electoral (Venezuela)
    }),
    # "vot" is safe as a token prefix: "devoted" and "devoto" do not start with it.
    # "elector" hits "electoral"/"electorado" but not "electricity"/"electricidad"/"electronico"/"selector".
    prefixes=("vot", "elector", "eleitor", "eleicao", "eleicoes"),
    compounds=(
        "votacion", "votacao", "votante", "voter", "electoral", "eleitoral", "sufrag", "suffrag",
        "pollingstation", "pollingplace", "miembrodemesa", "mesarios", "titulodeeleitor", "tituloeleitor",
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
        "izquierdista", "derechista", "esquerdista", "direitista",
        "comunista", "communist", "socialista", "socialist",
        "anarquista", "anarchist", "fascista", "fascist",
        "peronista", "kirchnerista", "sandinista", "uribista", "madurista",
        "petista", "bolsonarista", "lulista",
    }),
    # "partido" only as a prefix: as a compound it would hit "repartido"/"repartidor"; "partida" (a birth
    # certificate), "participante" and "partial" stay allowed because "parti" is no stem here.
    prefixes=("partido", "partidari", "partidist", "partidar"),
    compounds=(
        # "politic" covers political, politico, politica ("politica social" is masked below).
        "politic", "ideolog", "partisan",
        "militan",  # militante, militancia; not "militar" (military service is a legitimate field)
        "chavista", "chavismo", "psuv", "ubch",
        "leftwing", "rightwing", "leftrightscale", "izquierdaderecha", "esquerdadireita",
        "partymember", "partyaffil", "afiliacionpartid", "filiacaopartid", "filiacionpartid",
    ),
)

_RELIGION = _Terms(
    words=frozenset({
        "faith", "creed", "credo", "belief", "creencia", "crenca", "culto", "cults", "cult",
        "islam", "hindu", "sikh", "budista", "budismo", "umbanda", "candomble", "espirita", "espiritismo",
        "ateo", "atea", "ateu", "ateia", "judio", "judia", "judeu", "judaico",
        "christian", "christianity", "cristiano", "cristiana", "cristianismo", "cristao", "crista",
        "bautismo", "bautizo", "batismo", "templo", "terreiro", "feligres", "fieles",
    }),
    prefixes=("bautiz", "baptis", "baptiz", "batiz"),
    # "parroquia"/"parish" are administrative divisions and stay allowed.
    compounds=(
        "religi", "iglesia", "igreja", "church", "mosque", "mezquita", "mesquita", "synagog", "sinagog",
        "catolic", "catholic", "evangel", "protestant", "pentecost", "adventist", "mormon", "jehova",
        "musulman", "muculman", "muslim", "islamic", "islamit", "jewish", "judaism", "hinduism", "buddhis",
        "atheis", "ateism", "agnostic", "agnostik", "santeria", "creenciareligios", "afiliacionreligios",
    ),
)

_ETHNICITY = _Terms(
    words=frozenset({
        # Whole words only: as compounds "race" would hit "tracer" and "raza" would hit "embarazada".
        "race", "raza", "raca", "caste", "casta",
        "tribe", "tribu", "tribal",
        "afro", "mestizo", "mestiza", "mestico", "mestica", "mulato", "mulata", "zambo", "pardo", "parda",
        "gitano", "gitana", "cigano", "cigana", "romani", "quilombola",
        "aborigen", "aborigenes", "aboriginal", "ancestry", "ascendencia", "ancestralidade", "etn",
    }),
    # "indigena"/"indigenous" but not the stem "indigen": "indigente"/"indigent" is a poverty status.
    compounds=(
        "ethnic", "etnia", "etnic", "racial", "indigenous", "indigena",
        "afrodescend", "afroamerican", "afrocolombian", "afrovenezolan", "afroecuatorian", "afroperuan",
        "afrolatin", "afrobrasil", "afrocarib",
        "skincolo", "skintone", "colorofskin", "colourofskin", "colordepiel", "colordelapiel", "colorpiel",
        "tonodepiel", "tonopiel", "cordapele", "cordepele", "corpele", "corouraca", "corraca",
        "pueblooriginario", "pueblosoriginario", "povooriginario", "povosoriginario", "firstnation",
    ),
)

_SEXUAL_LIFE = _Terms(
    # "sex"/"sexo" (the person's sex) are legitimate, so no entry is just "sex"; "sexual" is refused
    # wherever it appears (orientation, vida sexual, homosexual, bisexual, salud sexual...).
    words=frozenset({"gay", "queer", "lesbica", "travesti"}),
    compounds=(
        "sexual", "homosex", "homossex", "lgbt", "lesbian", "sexlife", "samesex", "mismosexo", "mesmosexo",
        "sexorient", "orientsex", "orientacionsex", "orientacaosex", "sexualpartner", "parejassexual",
    ),
)

_TRADE_UNION = _Terms(
    # "union" alone is not refused: "union libre", "civil union" and "union de hecho" are marital states.
    words=frozenset({"gremio", "gremial", "gremialista", "sindicalista"}),
    prefixes=("unioniz", "unionis"),
    compounds=(
        "sindicato", "sindical",  # not "sindicat": "sindicatura" is a municipal office
        "tradeunion", "laborunion", "labourunion", "workersunion", "unionmember", "memberofunion",
        "uniondues", "unionaffil", "unionrep", "shopsteward", "cuotasindical", "contribuicaosindical",
    ),
)

# A messaging app's number is a contact channel and stays allowed; its accounts, usernames and groups
# are not: they show who a person talks to.
_MESSAGING_APPS = ("whatsapp", "telegram", "messenger", "wechat", "viber", "discord", "skype", "signal$")
_ACCOUNT_WORDS = ("account", "cuenta", "conta$", "contas$", "user", "usuario", "handle", "perfil", "profile",
                  "group", "grupo", "channel", "canal", "nick", "alias", "chat", "follower", "seguidor",
                  "post", "publicac")  # fmt: skip

_SOCIAL_MEDIA = _Terms(
    words=frozenset({
        "fb", "ig", "insta", "tweet", "hashtag", "followers", "seguidores",
        "xhandle", "x handle", "x account", "x profile", "x username",
        # Phrases, not compounds: glued "socialmedia" would hit "social_mediator", "redsocial" would hit
        # "registered_social" and "mediossociales" would hit "remedios_sociales".
        "social media", "red social", "rede social", "medios sociales", "midias sociais", "social networking",
    }),
    prefixes=("socialmedia", "redsocial", "redesocial", "mediossociales", "midiassociais", "socialnetworking"),
    compounds=(
        "facebook", "twitter", "instagram", "tiktok", "snapchat", "linkedin", "youtube", "reddit",
        "pinterest", "mastodon", "kwai", "redessociales", "redessociais",
        # "social network" alone may be a person's support network; its profiles and accounts are not.
        "socialnetworkprofile", "socialnetworkaccount", "socialnetworksite",
    ),
    together=(
        (_MESSAGING_APPS, _ACCOUNT_WORDS),
        (("social$", "sociales$", "sociais$"), ("media$", "medios$", "midia", "red$", "redes$", "rede$"),
         ("account", "cuenta", "conta$", "user", "usuario", "handle", "perfil", "profile", "activ", "atividad")),
    ),
)

_BIOMETRIC = _Terms(
    # "face" variants are whole words only: as a compound "face" would hit "surface" and "interface".
    words=frozenset({
        "face", "faceid", "facescan", "faceimage", "facetemplate", "facephoto", "rosto",
        "iris", "dna", "adn", "minutiae", "genome", "genoma", "retina",
    }),
    prefixes=("genom",),  # not a compound: "age_nombre" glues to "agenombre"
    compounds=(
        "biometr", "fingerprint", "dactilar", "dactilosc", "datilosc", "huella", "thumbprint", "palmprint",
        "impressaodigital", "impressoesdigitais", "impressaopolegar",
        "voiceprint", "faceprint", "facial", "rostro", "irisscan", "iristemplate", "retinascan",
        "retinalscan", "voicesample", "muestradevoz", "amostradevoz", "dnasample", "dnaprofile", "muestradeadn",
        "muestraadn", "pruebadeadn", "perfilgenetico", "amostradedna", "selfie",
    ),
    together=(
        # a face or a voice, captured: "foto de la cara", "grabación de voz", "voice recording"
        (("cara$", "rostro", "rosto", "face$", "faces$"),
         ("foto", "photo", "imagen", "imagem", "image", "scan", "escane", "muestra", "amostra", "sample",
          "plantilla", "template", "captur", "modelo", "recogn", "reconoc", "reconhec")),
        (("voz$", "voice$", "voces$", "vozes$"),
         ("muestra", "amostra", "sample", "grabac", "gravac", "record", "huella", "print", "perfil",
          "profile", "template", "plantilla", "biometr", "recogn", "reconoc", "reconhec", "firma")),
        # Portuguese "impressão digital" is a fingerprint (in Spanish "impresión digital" is digital printing).
        (("impressao", "impressoes"), ("digital", "digitais", "dedo", "polegar")),
    ),
)

_LOCATION_TRACKING = _Terms(
    # Plain address fields (address, direccion, municipio, parroquia, "location", "ubicacion", "localizacao")
    # stay allowed; coordinates, traces, tracking and the device identifiers that tracking keys on do not.
    words=frozenset({
        "lat", "lng", "lon", "latlng", "latlon", "latlong", "lnglat", "lonlat", "gps",
        # Whole words: "longitudinal" (a survey panel) must pass. "longitud" is also a child's length in
        # growth monitoring; such a field should be called "talla".
        "longitud",
        "coordinates", "coordenadas", "coords", "geocoordinates",
        "tracking", "tracker", "paradero", "whereabout",
        # Device identifiers: a phone's or a browser's, the keys by which a person is followed.
        "imei", "imsi", "iccid", "meid", "udid", "idfa", "idfv", "gaid", "aaid", "adid", "mac address",
        "direccion mac", "endereco mac", "device id", "id del dispositivo", "id do dispositivo",
        "bluetooth", "wifi mac", "ip address", "direccion ip", "endereco ip",
    }),
    # "gps" as a token prefix or suffix: "gpsdata", "coordenadasgps"; never inside a word.
    prefixes=("rastre", "geohash", "gps", "geoloc"),  # a token prefix, not a compound: "arrastre" is trawl fishing
    suffixes=("gps",),
    compounds=(
        "latitud", "longitude", "geoloc", "georef", "georref", "geopos", "geotag", "geofenc",
        "geocerca", "celltower", "torrecelular", "torredecelular", "antenacelular", "estacionbase",
        "locationhistory", "locationtrac", "currentlocation", "livelocation", "knownlocation",
        "realtimelocation", "locationping", "locationdata", "locationsharing",
        "ubicacionactual", "ubicacionentiemporeal", "historialdeubicacion", "historialubicacion",
        "seguimientodeubicacion", "seguimientoubicacion", "localizacaoatual", "localizacaoemtemporeal",
        "historicodelocalizacao", "localizacaoemtemporeal", "macaddr", "advertisingid", "adsid", "deviceid",
        "deviceidentif", "iddispositivo", "iddeldispositivo", "iddodispositivo", "identificadordeldispositivo",
        "identificadordispositivo", "identificadordodispositivo", "androidid", "serialdeldispositivo",
        "numerodeseriedeldispositivo", "ipaddress", "direccionip", "enderecoip", "devicefingerprint",
    ),
    together=(
        # A place, now or over time: "ubicación en tiempo real", "tiempo real ubicación", "location history".
        # Not "posicion" (a job position) nor "movimientos" (of an account) nor "desplazamiento" (forced
        # displacement is a humanitarian field).
        (("ubicac", "localiz", "location", "paradero", "whereabout"),
         ("actual$", "atual$", "current", "tiempo", "tempo$", "time$", "live$", "vivo$", "historial", "historico",
          "history", "trace", "traza", "rastro", "monitor", "seguimiento", "acompanhamento", "tracking",
          "ping", "log$")),
        (("mac$",), ("address", "direccion", "endereco", "addr")),
        (("publicidad", "publicidade", "advertising", "ad$", "ads$", "anuncio"), ("id$", "identif", "ids$")),
        (("dispositivo", "device", "aparelho"),
         ("id$", "ids$", "identif", "serial", "serie", "fingerprint", "huella")),
    ),
)

_SURVEILLANCE_CAMERA = _Terms(
    words=frozenset({
        "camera", "camara", "cctv", "webcam", "bodycam", "dashcam", "videocamara", "videocamera",
        "cftv",  # circuito fechado de televisão
    }),
    compounds=(
        "videovigilan", "videomonitor", "circuitocerrado", "circuitofechado", "closedcircuit", "camerafeed",
        "videofeed", "livefeed", "videosurveillance", "surveillancevideo", "cameraimage", "camarasdeseguridad",
        "camaradeseguridad", "camarasdevigilancia",
        "camaradevigilancia", "camerasdeseguranca", "cameradeseguranca", "securitycamera", "surveillancecam",
        "surveillancefootage", "footage", "filmacion", "filmagem", "grabaciondevideo", "gravacaodevideo",
        "videorecording", "videoanalytic", "facerecognition",
    ),
)

_BEHAVIOUR_SCORE = _Terms(
    # A score of need (a proxy means test, a vulnerability index) is legitimate; a score of how a person
    # behaves, obeys or ranks against others is not.
    words=frozenset({"lealtad", "lealdade", "loyalty", "obediencia", "obedience", "docilidad"}),
    compounds=(
        "socialcredit", "creditosocial", "creditsocial", "socialscore", "citizenscore", "puntajeciudadano",
        "behaviourscore", "behaviorscore", "behaviouralscore", "behavioralscore", "conductscore",
        "puntajedecomportamiento", "puntajedeconducta", "puntuaciondecomportamiento", "puntuaciondeconducta",
        "pontuacaodecomportamento", "pontuacaodeconduta", "indicedecomportamiento", "indicedecomportamento",
        "trustscore", "reputationscore", "reputacion", "reputacao", "reputation",
    ),
    together=(
        (("comport", "behavio", "conducta", "conduta", "conduct$", "actitud", "atitude", "attitude",
          "reputac", "reputat", "lealtad", "lealdade", "loyal", "obedien"),
         ("score", "puntaj", "puntuac", "pontuac", "rank", "rating", "calificac", "classificac", "clasificac",
          "indice", "index", "nivel", "level", "nota$", "grado", "grau$", "valorac", "avaliac")),
        # Not "clasificación socioeconómica de la persona": a poverty classification is legitimate.
        (("rank",),
         ("persona", "people", "person", "pessoa", "ciudadan", "cidada", "citizen", "beneficiar", "individu")),
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
    ProhibitedCategory.SURVEILLANCE_CAMERA: _SURVEILLANCE_CAMERA,
    ProhibitedCategory.BEHAVIOUR_SCORE: _BEHAVIOUR_SCORE,
})

# Legitimate phrases, taken out before matching: their tokens take part in no word, prefix or compound.
_ALLOWED_PHRASES: tuple[tuple[str, ...], ...] = tuple(
    tuple(phrase.split())
    for phrase in (
        "third party", "third parties", "responsible party",
        # "politica" is both "politics" and "policy" in Spanish and Portuguese.
        "politica social", "politicas sociales", "politica publica", "politicas publicas",
        "politica de privacidad", "politicas sociais", "politica de privacidade",
        "face to face", "cara a cara",
        "tracking number", "tracking code", "numero de rastreo", "codigo de rastreo", "codigo de rastreio",
        # In social work a "red social de apoyo" is a person's support network, not social media.
        "red social de apoyo", "redes sociales de apoyo", "rede de apoio", "rede social de apoio",
        "camara municipal", "camara de comercio",
        "ingreso actual", "ocupacion actual", "situacion actual",
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


def _singulars(token: str) -> tuple[str, ...]:
    """The token and what it would be without a plural ending (`-s`, `-es`), for whole-word matching."""
    forms = [token]
    if len(token) > 3 and token.endswith("s"):
        forms.append(token[:-1])
        if token.endswith("es"):
            forms.append(token[:-2])
    return tuple(forms)


def _stem_in(stem: str, tokens: Sequence[str]) -> bool:
    """Whether a token is the whole-word stem (`name$`) or starts with the prefix stem."""
    if stem.endswith("$"):
        word = stem[:-1]
        return any(word in _singulars(token) for token in tokens)
    return any(token.startswith(stem) for token in tokens)


def _matches(
    terms: _Terms,
    segments: Sequence[Sequence[str]],
    glued: Sequence[str],
    leading: Sequence[str],
    spans: Sequence[Sequence[str]],
) -> bool:
    """Whether a word or prefix of `terms` is in the segments, a compound in or leading a glued piece, or
    every group of a `together` entry within one span (a name's segment, or a few words of free text)."""
    phrases = [word.split() for word in terms.words if " " in word]
    for segment in segments:
        for index, token in enumerate(segment):
            if any(form in terms.words for form in _singulars(token)):
                return True
            if token.startswith(terms.prefixes) or (terms.suffixes and token.endswith(terms.suffixes)):
                return True
            if any(_starts_at(segment, index, phrase) for phrase in phrases):
                return True
    for span in spans:
        for groups in terms.together:
            if all(any(_stem_in(stem, span) for stem in group) for group in groups):
                return True
    if any(compound in piece for piece in glued for compound in terms.compounds):
        return True
    return any(piece.startswith(terms.compounds) for piece in leading)


def _category(
    segments: Sequence[Sequence[str]],
    glued: Sequence[str],
    leading: Sequence[str] = (),
    spans: Sequence[Sequence[str]] | None = None,
) -> ProhibitedCategory | None:
    """The first category, in enum order, whose table matches."""
    for category, terms in _TABLES.items():
        if _matches(terms, segments, glued, leading, segments if spans is None else spans):
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
    windows = [segment[start : start + _TEXT_WINDOW] for segment in segments for start in range(len(segment))]
    return _category(segments, words, ["".join(window) for window in windows], windows)
