"""The prohibited-category recogniser: names Carnet must refuse, and legitimate names it must let through."""

import ast
from pathlib import Path

import pytest

import carnet.registry.policy as policy_module
from carnet.registry.policy import (
    CATEGORY_LABELS,
    ProhibitedCategory,
    prohibited_category,
    prohibited_category_in_text,
)

V = ProhibitedCategory.VOTING
P = ProhibitedCategory.POLITICAL
R = ProhibitedCategory.RELIGION
E = ProhibitedCategory.ETHNICITY
S = ProhibitedCategory.SEXUAL_LIFE
U = ProhibitedCategory.TRADE_UNION
M = ProhibitedCategory.SOCIAL_MEDIA
B = ProhibitedCategory.BIOMETRIC
L = ProhibitedCategory.LOCATION_TRACKING
C = ProhibitedCategory.SURVEILLANCE_CAMERA
K = ProhibitedCategory.BEHAVIOUR_SCORE

PROHIBITED = [
    # Voting or elections
    ("voted_2018", V),
    ("voted2018", V),
    ("lastVote", V),
    ("CNECentro", V),
    ("votó", V),
    ("voto_en_elecciones", V),
    ("vote_intention", V),
    ("VOTER_REGISTRATION", V),
    ("centro_de_votacion", V),
    ("centroDeVotación", V),
    ("mesa_electoral", V),
    ("mesaelectoral", V),
    ("cne", V),
    ("CNE_centro", V),
    ("elecciones2024", V),
    ("election_participation", V),
    ("referendum_2017", V),
    ("carnet_de_la_patria", V),
    ("sufragio", V),
    # Political opinion or party
    ("party_membership", P),
    ("partyMembership", P),
    ("partido", P),
    ("partido_politico", P),
    ("partidopolitico", P),
    ("PartidoPolítico", P),
    ("afiliacion_partido", P),
    ("political_opinion", P),
    ("opinión_política", P),
    ("psuv", P),
    ("militante", P),
    ("chavista", P),
    ("opositor", P),
    ("ideologia", P),
    ("political_party_2018", P),
    ("left_right_scale", P),
    # Religion
    ("religion", R),
    ("religión", R),
    ("RELIGION", R),
    ("religious_affiliation", R),
    ("iglesia", R),
    ("católico", R),
    ("es_evangelico", R),
    ("musulmán", R),
    ("judío", R),
    ("church_attendance", R),
    ("testigo_de_jehova", R),
    ("fe_religiosa", R),
    # Ethnicity or race
    ("etnia", E),
    ("ethnicity", E),
    ("grupo_étnico", E),
    ("race", E),
    ("raceGroup", E),
    ("raza", E),
    ("indígena", E),
    ("pueblo_indigena", E),
    ("puebloIndígena", E),
    ("afrodescendiente", E),
    ("color_de_piel", E),
    ("colordepiel", E),
    ("skinColour", E),
    ("tono_piel", E),
    ("racial_group", E),
    # Sexual life or orientation
    ("sexual_orientation", S),
    ("sexualOrientation", S),
    ("orientacion_sexual", S),
    ("orientación_sexual", S),
    ("vida_sexual", S),
    ("lgbt", S),
    ("LGBTIQ_member", S),
    ("gay", S),
    ("homosexual", S),
    ("pareja_del_mismo_sexo", S),
    # Trade-union membership
    ("sindicato", U),
    ("sindicalizado", U),
    ("afiliacion_sindical", U),
    ("afiliacionsindical", U),
    ("afiliación_sindical", U),
    ("union_member", U),
    ("union_membership", U),
    ("trade_union", U),
    ("labor_union", U),
    ("unionized", U),
    # Social media
    ("redes_sociales", M),
    ("redessociales", M),
    ("RedesSociales", M),
    ("social_media", M),
    ("socialMediaAccounts", M),
    ("social_network_profile", M),
    ("facebook_profile", M),
    ("facebookprofile", M),
    ("twitter", M),
    ("x_handle", M),
    ("instagram_user", M),
    ("tiktok", M),
    ("whatsapp_groups", M),
    ("grupos_de_whatsapp", M),
    # Biometric templates
    ("huella_dactilar", B),
    ("huelladactilar", B),
    ("HUELLA_DACTILAR", B),
    ("huella", B),
    ("fingerprint", B),
    ("fingerprintTemplate", B),
    ("foto_rostro", B),
    ("face_template", B),
    ("facial", B),
    ("reconocimiento_facial", B),
    ("iris_scan", B),
    ("biometric", B),
    ("biometría", B),
    ("voiceprint", B),
    ("voice_print_sample", B),
    ("adn", B),
    ("dna_sample", B),
    # Location tracking
    ("gps", L),
    ("gpsLatitude", L),
    ("latitude", L),
    ("latitud", L),
    ("longitude", L),
    ("longitud", L),
    ("geolocation", L),
    ("geolocalización", L),
    ("location_history", L),
    ("ubicacion_actual", L),
    ("ubicaciónActual", L),
    ("cell_tower", L),
    ("rastreo", L),
    ("tracking", L),
    ("deviceTracking", L),
    ("seguimiento_ubicacion", L),
    ("lat_lng", L),
    ("lats", L),  # a four-letter plural is folded
    ("coordenadasgps", L),  # "gps" at the end of a token
    ("gpsdatos", L),  # and at its start
    ("tribales", E),  # "-es" dropped: tribal
    ("gremiales", U),
    # Cameras
    ("cctv_footage", C),
    ("camara_de_seguridad", C),
    # Behaviour scores
    ("behaviour_score", K),
    ("puntaje_de_comportamiento", K),
]

ALLOWED = [
    "monthly_income",
    "ingreso_mensual",
    "employment_status",
    "disability",
    "discapacidad",
    "chronic_condition",
    "enfermedad_cronica",
    "enfermedad_crónica",
    "pregnancy",
    "pregnant",
    "embarazo",
    "embarazada",  # contains "raza"
    "children_in_school",
    "dwelling_type",
    "tipo_vivienda",
    "vehicle_owned",
    "given_names",
    "family_names",
    "date_of_birth",
    "fecha_nacimiento",
    "sex",
    "sexo",
    "SEXO",
    "sex_at_birth",
    "gender",
    "national_id",
    "cedula",
    "cédula",
    "phone",
    "telefono",
    "teléfono",
    "whatsapp_number",  # a contact channel, not social-media activity
    "correo_electronico",  # "electronico" is not "elector..."
    "address",
    "direccion",
    "dirección",
    "region_code",
    "municipality_code",
    "municipio",
    "parroquia",  # an administrative division, not a church parish
    "domicilio",
    "ubicacion_vivienda",  # where the dwelling is, like an address
    "household_ref",
    "relationship",
    "parentesco",
    "marital_status",
    "estado_civil",
    "union_libre",
    "civil_union",
    "concubinato",
    "education_level",
    "nivel_educativo",
    "participation_rate",
    "participante",
    "partial_payment",
    "partida_de_nacimiento",  # "partida" is a birth certificate, not "partido"
    "monto_repartido",  # contains "partido"
    "repartidor",
    "third_party_payer",
    "surface_m2",
    "interface_language",
    "face_to_face_interview",
    "devoted_hours",
    "devoto_hours",
    "school_attendance",
    "water_source",
    "electricity",
    "electricidad",
    "electrodomesticos",
    "number_of_rooms",
    "occupation",
    "ocupacion",
    "ocupación",
    "pension",
    "tracer_id",
    "payment_tracking_number",
    "gracias",
    "veteran",
    "military_service",
    "servicio_militar",  # "militar" is not "militante"
    "orphan",
    "huerfano",
    "indigente",  # a poverty status, not "indigena"
    "indigent_status",
    "nationality",
    "nacionalidad",
    "mother_tongue",
    "lengua_materna",
    "social_security_number",
    "afiliacion_seguro_social",
    "registered_social_pension",  # glued it contains "redsocial"
    "social_mediator",  # glued it contains "socialmedia"
    "longitudinal_weight",
    "latrine_type",
    "fe_de_vida",
    "arrastre_boat",  # trawl fishing, not "rastreo"
    "household_size",
    "bank_account",
    "social_network_size",  # the people a household can count on, not social media
    "red_de_apoyo",
    "gas",  # three letters ending in s are never folded
    "ips",
]


@pytest.mark.parametrize(("name", "expected"), PROHIBITED)
def test_prohibited_names_are_refused_with_their_category(name: str, expected: ProhibitedCategory) -> None:
    assert prohibited_category(name) == expected


@pytest.mark.parametrize("name", ALLOWED)
def test_legitimate_names_are_allowed(name: str) -> None:
    assert prohibited_category(name) is None


def test_the_batteries_are_large_and_cover_every_category() -> None:
    assert len(PROHIBITED) >= 60
    assert len(ALLOWED) >= 60
    assert {expected for _, expected in PROHIBITED} == set(ProhibitedCategory)
    assert not {name for name, _ in PROHIBITED} & set(ALLOWED)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Party the person voted for", V),  # voting and party: the first category in enum order wins
        ("Partido político al que pertenece", P),
        ("Whether the head of household attends a Catholic church", R),
        ("Pueblo indígena al que pertenece la persona", E),
        ("Color de piel declarado", E),
        ("Orientación sexual declarada", S),
        ("Member of a trade union (yes/no)", U),
        ("Cuentas en redes sociales que usa", M),
        ("Instagram or TikTok username", M),
        ("Huella dactilar del pulgar derecho", B),
        ("Fingerprint template captured at enrolment", B),
        ("GPS coordinates of the dwelling", L),
        ("Ubicación actual del teléfono", L),
        ("PSUV", P),
    ],
)
def test_prohibited_categories_are_found_in_text(text: str, expected: ProhibitedCategory) -> None:
    assert prohibited_category_in_text(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "Monthly household income in bolívares",
        "Declared monthly income of the person, in céntimos of bolívar.",
        "Number of rooms used for sleeping",
        "Sex of the person (M/F)",
        "Hours per week devoted to unpaid care work",
        "Partial payment received after participation in the programme",
        "Interview conducted face to face by the social worker",
        "Beneficio otorgado en el marco de la política social del Estado",
        "Fecha de nacimiento según la partida de nacimiento",
        "Whether the person is pregnant (re-declared each year).",
        "Registered social pension amount",
        "self_employed",
        "rancho",
    ],
)
def test_legitimate_text_is_allowed(text: str) -> None:
    assert prohibited_category_in_text(text) is None


def test_text_groups_only_join_neighbouring_words() -> None:
    # "location" and "current" five words apart say nothing about tracking; side by side they do.
    assert prohibited_category_in_text("The location of the dwelling, as declared, is kept current") is None
    assert prohibited_category_in_text("Number of devices the household owns, each identified by its serial") is None
    assert prohibited_category_in_text("Ubicación en tiempo real del teléfono") == L
    assert prohibited_category_in_text("Real-time location of the phone") == L
    assert prohibited_category_in_text("Puntaje de comportamiento del beneficiario") == K


def test_text_compounds_only_join_neighbouring_words() -> None:
    # Glued whole, this text contains "voter" ("cuer-vo" + "ter-reno"); word by word it names no category.
    text = "Cuervo terreno"
    assert "voter" in text.replace(" ", "").lower()
    assert prohibited_category_in_text(text) is None
    assert prohibited_category_in_text("Mesa electoral") == V
    assert prohibited_category_in_text("Member of trade unions") == U
    assert prohibited_category_in_text("Tono de piel") == E


def test_normalisation_is_insensitive_to_case_accents_and_separators() -> None:
    variants = [
        "orientacion_sexual",
        "Orientación Sexual",
        "ORIENTACION-SEXUAL",
        "orientacionSexual",
        "orientación.sexual",
    ]
    assert {prohibited_category(name) for name in variants} == {S}


def test_the_category_values_and_labels_are_stable() -> None:
    assert [category.value for category in ProhibitedCategory] == [
        "voting_or_elections",
        "political_opinion_or_party",
        "religion",
        "ethnicity_or_race",
        "sexual_life_or_orientation",
        "trade_union_membership",
        "social_media",
        "biometric_template",
        "location_tracking",
        "camera_surveillance",
        "behaviour_score",
    ]
    assert set(CATEGORY_LABELS) == set(ProhibitedCategory)
    assert CATEGORY_LABELS[V] == "voting or elections"
    assert all(label and label == label.strip() for label in CATEGORY_LABELS.values())


def test_the_module_is_pure_standard_library() -> None:
    tree = ast.parse(Path(policy_module.__file__).read_text(encoding="utf-8"))
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            imported.add((node.module or "").split(".")[0])
    assert imported <= {"__future__", "unicodedata", "collections", "dataclasses", "enum", "types", "re"}


def test_the_documentation_lists_every_stem() -> None:
    doc = (Path(policy_module.__file__).parents[3] / "docs/formats/attribute-dictionary.md").read_text("utf-8")
    for category, terms in policy_module._TABLES.items():
        assert f"`{category.value}`" in doc
        stems = [*terms.words, *terms.prefixes, *terms.suffixes, *terms.compounds]
        stems += [stem for groups in terms.together for group in groups for stem in group]
        missing = [stem for stem in stems if f"`{stem}`" not in doc]
        assert not missing, f"{category.value}: {missing}"
    for phrase in policy_module._ALLOWED_PHRASES:
        assert f"`{' '.join(phrase)}`" in doc


def test_case_changes_split_at_the_last_letter_of_a_run() -> None:
    # "RazaID" is raza + ID; "RAZAId" is RAZA + Id: an upper-case run ends where a capital starts a word.
    assert prohibited_category("RazaID") == E
    assert prohibited_category("RAZAId") == E
    assert prohibited_category("CNECentro") == V


def test_a_masked_phrase_separates_what_stands_on_either_side() -> None:
    # Glued across the masked "third party", "reli" + "gion" would spell a religion.
    assert prohibited_category("reli_third_party_gion") is None
    assert prohibited_category("religion_third_party") == R


def test_text_windows_hold_five_words() -> None:
    assert prohibited_category_in_text("Ubicación del teléfono en tiempo real") == L  # 5 words from ubicación
    assert prohibited_category_in_text("Ubicación de la casa y del tiempo libre") is None  # 6 words apart


def test_the_tables_cannot_be_changed_at_run_time() -> None:
    import dataclasses

    with pytest.raises(dataclasses.FrozenInstanceError):
        policy_module._VOTING.words = frozenset()  # type: ignore[misc]
