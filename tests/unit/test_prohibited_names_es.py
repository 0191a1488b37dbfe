"""Spanish: at least 100 prohibited field names, in every disguise, and the fields a registry really needs."""

from __future__ import annotations

import pytest

from carnet.registry.policy import ProhibitedCategory as Cat
from carnet.registry.policy import prohibited_category

PROHIBITED: list[tuple[str, Cat]] = [
    # voto y elecciones
    ("votó_en_2018", Cat.VOTING), ("intención_de_voto", Cat.VOTING), ("centro_de_votación", Cat.VOTING),
    ("CentroVotacion", Cat.VOTING), ("mesa-electoral", Cat.VOTING), ("registro electoral", Cat.VOTING),
    ("participó_elecciones", Cat.VOTING), ("votante", Cat.VOTING), ("VOTOS", Cat.VOTING),
    ("elecciones.2024", Cat.VOTING), ("sufragó", Cat.VOTING), ("testigo_de_mesa_electoral", Cat.VOTING),
    ("punto_rojo", Cat.VOTING), ("carnet_de_la_patria", Cat.VOTING), ("referendo_revocatorio", Cat.VOTING),
    # opinión política y partido
    ("partido_político", Cat.POLITICAL), ("Partidos", Cat.POLITICAL), ("afiliación_partidaria", Cat.POLITICAL),
    ("afiliacionPartidista", Cat.POLITICAL), ("militancia", Cat.POLITICAL), ("opinión política", Cat.POLITICAL),
    ("politica_partidaria", Cat.POLITICAL), ("simpatizantes", Cat.POLITICAL), ("es_opositor", Cat.POLITICAL),
    ("tendencia_ideológica", Cat.POLITICAL), ("miembro_ubch", Cat.POLITICAL), ("psuv_militante", Cat.POLITICAL),
    ("izquierda_derecha", Cat.POLITICAL), ("chavismo", Cat.POLITICAL),
    # religión y creencias
    ("religión", Cat.RELIGION), ("religiones", Cat.RELIGION), ("creencias", Cat.RELIGION),
    ("creencia_religiosa", Cat.RELIGION), ("culto", Cat.RELIGION), ("cultos_que_frecuenta", Cat.RELIGION),
    ("iglesia_a_la_que_asiste", Cat.RELIGION), ("es_católico", Cat.RELIGION), ("evangélicos", Cat.RELIGION),
    ("credo", Cat.RELIGION), ("fe_religiosa", Cat.RELIGION), ("bautizado", Cat.RELIGION),
    ("santería", Cat.RELIGION), ("ateos", Cat.RELIGION), ("templo", Cat.RELIGION),
    # etnia y raza
    ("raza", Cat.ETHNICITY), ("razas", Cat.ETHNICITY), ("Etnia", Cat.ETHNICITY), ("grupo_étnico", Cat.ETHNICITY),
    ("pueblo_indígena", Cat.ETHNICITY), ("afrodescendiente", Cat.ETHNICITY), ("color_de_piel", Cat.ETHNICITY),
    ("tono-de-piel", Cat.ETHNICITY), ("mestizo", Cat.ETHNICITY), ("ascendencia", Cat.ETHNICITY),
    ("pueblos_originarios", Cat.ETHNICITY), ("gitanos", Cat.ETHNICITY),
    # vida sexual y orientación
    ("orientación_sexual", Cat.SEXUAL_LIFE), ("sexual_orientacion", Cat.SEXUAL_LIFE),
    ("vida sexual", Cat.SEXUAL_LIFE), ("homosexual", Cat.SEXUAL_LIFE), ("pareja_del_mismo_sexo", Cat.SEXUAL_LIFE),
    ("lgbtiq", Cat.SEXUAL_LIFE), ("lesbiana", Cat.SEXUAL_LIFE), ("parejas_sexuales", Cat.SEXUAL_LIFE),
    # sindicatos
    ("sindicato", Cat.TRADE_UNION), ("sindicatos", Cat.TRADE_UNION), ("afiliación_sindical", Cat.TRADE_UNION),
    ("cuota_sindical", Cat.TRADE_UNION), ("delegado_sindical", Cat.TRADE_UNION), ("gremio", Cat.TRADE_UNION),
    ("sindicalista", Cat.TRADE_UNION),
    # redes sociales y mensajería
    ("redes_sociales", Cat.SOCIAL_MEDIA), ("cuenta_de_red_social", Cat.SOCIAL_MEDIA),
    ("usuario_instagram", Cat.SOCIAL_MEDIA), ("perfil_de_facebook", Cat.SOCIAL_MEDIA),
    ("cuenta_telegram", Cat.SOCIAL_MEDIA), ("usuario_de_telegram", Cat.SOCIAL_MEDIA),
    ("grupos_de_whatsapp", Cat.SOCIAL_MEDIA), ("whatsapp_grupo", Cat.SOCIAL_MEDIA),
    ("seguidores", Cat.SOCIAL_MEDIA), ("tiktok_usuario", Cat.SOCIAL_MEDIA), ("cuenta_de_twitter", Cat.SOCIAL_MEDIA),
    ("canal_de_telegram", Cat.SOCIAL_MEDIA), ("publicaciones_facebook", Cat.SOCIAL_MEDIA),
    # biometría: huellas, rostro, voz, iris
    ("huella_dactilar", Cat.BIOMETRIC), ("huellas", Cat.BIOMETRIC), ("foto_del_rostro", Cat.BIOMETRIC),
    ("foto_de_la_cara", Cat.BIOMETRIC), ("cara_foto", Cat.BIOMETRIC), ("imagen_facial", Cat.BIOMETRIC),
    ("reconocimiento_facial", Cat.BIOMETRIC), ("muestra_de_voz", Cat.BIOMETRIC), ("grabación_de_voz", Cat.BIOMETRIC),
    ("voz_grabacion", Cat.BIOMETRIC), ("iris", Cat.BIOMETRIC), ("escaneo_de_iris", Cat.BIOMETRIC),
    ("plantilla_biométrica", Cat.BIOMETRIC), ("ADN", Cat.BIOMETRIC), ("perfil_genético", Cat.BIOMETRIC),
    ("selfie_verificacion", Cat.BIOMETRIC),
    # rastreo de ubicación e identificadores de dispositivo
    ("ubicación en tiempo real", Cat.LOCATION_TRACKING), ("tiempo_real_ubicacion", Cat.LOCATION_TRACKING),
    ("ubicacion_tiempo_real", Cat.LOCATION_TRACKING), ("geolocalizacion_gps", Cat.LOCATION_TRACKING),
    ("geolocalización", Cat.LOCATION_TRACKING), ("rastreo", Cat.LOCATION_TRACKING),
    ("rastreo_del_celular", Cat.LOCATION_TRACKING), ("coordenadas", Cat.LOCATION_TRACKING),
    ("coordenadasGPS", Cat.LOCATION_TRACKING), ("latitud", Cat.LOCATION_TRACKING),
    ("historial_de_ubicaciones", Cat.LOCATION_TRACKING), ("ubicación_actual", Cat.LOCATION_TRACKING),
    ("seguimiento_de_ubicación", Cat.LOCATION_TRACKING), ("ubicacion_en_vivo", Cat.LOCATION_TRACKING),
    ("paradero", Cat.LOCATION_TRACKING), ("imei_del_teléfono", Cat.LOCATION_TRACKING),
    ("IMEI", Cat.LOCATION_TRACKING), ("dirección_mac", Cat.LOCATION_TRACKING), ("mac_address", Cat.LOCATION_TRACKING),
    ("id_de_publicidad", Cat.LOCATION_TRACKING), ("identificador_del_dispositivo", Cat.LOCATION_TRACKING),
    ("id_dispositivo", Cat.LOCATION_TRACKING), ("dirección_ip", Cat.LOCATION_TRACKING),
    ("torre_celular", Cat.LOCATION_TRACKING), ("geocerca", Cat.LOCATION_TRACKING),
    # cámaras y videovigilancia
    ("cámara", Cat.SURVEILLANCE_CAMERA), ("cámaras_de_seguridad", Cat.SURVEILLANCE_CAMERA),
    ("videovigilancia", Cat.SURVEILLANCE_CAMERA), ("circuito_cerrado", Cat.SURVEILLANCE_CAMERA),
    ("imagen_de_camara", Cat.SURVEILLANCE_CAMERA), ("grabación_de_video", Cat.SURVEILLANCE_CAMERA),
    ("CCTV", Cat.SURVEILLANCE_CAMERA), ("filmacion_del_punto", Cat.SURVEILLANCE_CAMERA),
    # puntajes de conducta
    ("puntaje_de_comportamiento", Cat.BEHAVIOUR_SCORE), ("comportamiento_puntaje", Cat.BEHAVIOUR_SCORE),
    ("puntuación_de_conducta", Cat.BEHAVIOUR_SCORE), ("nivel_de_lealtad", Cat.BEHAVIOUR_SCORE),
    ("lealtad", Cat.BEHAVIOUR_SCORE), ("crédito_social", Cat.BEHAVIOUR_SCORE),
    ("ranking_de_personas", Cat.BEHAVIOUR_SCORE),
    ("indice_de_comportamiento", Cat.BEHAVIOUR_SCORE), ("reputación", Cat.BEHAVIOUR_SCORE),
    ("calificación_de_conducta", Cat.BEHAVIOUR_SCORE),
]  # fmt: skip

# What a Venezuelan social registry asks (household surveys, SISBEN-like forms): never flagged.
ALLOWED: list[str] = [
    "ingreso_del_hogar", "ingreso del hogar", "ingresoMensual", "ingreso_actual", "discapacidad",
    "tipo_de_discapacidad", "escolaridad", "nivel_de_escolaridad", "años_de_escolaridad", "vivienda",
    "tipo de vivienda", "tipo_vivienda", "material_del_techo", "material_de_las_paredes", "material_del_piso",
    "número_de_habitaciones", "numero_habitaciones", "habitaciones_para_dormir", "condición_crónica",
    "enfermedad_crónica", "embarazo", "embarazada", "semanas_de_embarazo", "lactancia", "lactante", "ocupación",
    "ocupacion_actual", "situación_laboral", "situacion_actual", "cédula", "fecha_de_nacimiento", "sexo",
    "estado_civil", "unión_libre", "parentesco", "jefe_de_hogar", "miembros_del_hogar", "hijos_menores",
    "niños_en_la_escuela", "asistencia_escolar", "dirección", "direccion_de_habitacion", "ubicación_de_la_vivienda",
    "municipio", "parroquia", "sector", "urbanización", "punto_de_referencia", "teléfono", "teléfono_celular",
    "número_de_whatsapp", "correo_electrónico", "fuente_de_agua", "servicio_eléctrico", "electricidad",
    "gas_doméstico", "eliminación_de_excretas", "tipo_de_cocina", "combustible_para_cocinar", "tenencia_de_vivienda",
    "hacinamiento", "pensionado", "pensión", "seguro_social", "afiliacion_seguro_social", "vehículo_propio",
    "cultivo", "cultivos_del_hogar", "cultura", "razón_de_ingreso", "razón_social", "razones_de_abandono_escolar",
    "carácter_del_empleo", "caracteristicas_de_la_vivienda", "partida_de_nacimiento", "monto_repartido",
    "repartidor", "participante", "servicio_militar", "devoto_horas", "indigente", "huérfano", "nacionalidad",
    "lengua_materna", "fe_de_vida", "arrastre", "seguimiento_médico", "control_prenatal", "vacunas",
    "peso", "talla", "desnutrición", "comedor_escolar", "beca", "bono", "política_social", "red_de_apoyo",
    "red social de apoyo", "desplazamiento_forzado", "posición_en_el_empleo", "movimientos_de_cuenta",
    "clasificación_socioeconómica_de_la_persona", "puntaje_de_vulnerabilidad", "indice_de_pobreza",
    "nivel_socioeconómico", "conductor_de_vehiculo", "licencia_de_conducir", "urna_funeraria",
    "ayuda_funeraria", "tres_hijos", "disciplina_escolar", "camarón_pescador", "lineas_de_credito",
    "número_de_rastreo", "encuesta_cara_a_cara", "facturas", "superficie_m2",
]  # fmt: skip


@pytest.mark.parametrize(("name", "expected"), PROHIBITED)
def test_prohibited_spanish_names_are_refused_with_their_category(name: str, expected: Cat) -> None:
    assert prohibited_category(name) == expected


@pytest.mark.parametrize("name", ALLOWED)
def test_spanish_registry_fields_are_allowed(name: str) -> None:
    assert prohibited_category(name) is None


def test_the_spanish_batteries_are_large_and_cover_every_category() -> None:
    assert len(PROHIBITED) >= 100 and len(ALLOWED) >= 100
    assert {category for _, category in PROHIBITED} == set(Cat)
    assert not {name for name, _ in PROHIBITED} & set(ALLOWED)


@pytest.mark.parametrize(
    ("allowed", "refused"),
    [
        ("razón", "raza"),  # a short stem stays a whole word
        ("razones", "razas"),
        ("cultivo", "culto"),
        ("cultura", "cultos"),
        ("carácter", "cara_foto"),
        ("credito", "credo"),
        ("dogpsychology", "gps"),  # "gps" inside a word is not a GPS
        ("dogpsychology", "datos_gps"),
        ("embarazada", "raza_declarada"),
        ("arrastre", "rastreo"),
        ("servicio_militar", "militante"),
        ("ubicacion_vivienda", "ubicacion_actual"),
        ("seguimiento_escolar", "seguimiento_ubicacion"),
    ],
)
def test_short_stems_do_not_catch_their_neighbours(allowed: str, refused: str) -> None:
    assert prohibited_category(allowed) is None
    assert prohibited_category(refused) is not None
