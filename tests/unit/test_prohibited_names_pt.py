"""Portuguese: at least 100 prohibited field names, in every disguise, and the fields a registry really needs."""

from __future__ import annotations

import pytest

from carnet.registry.policy import ProhibitedCategory as Cat
from carnet.registry.policy import prohibited_category

PROHIBITED: list[tuple[str, Cat]] = [
    # voto e eleições
    ("votou_em_2018", Cat.VOTING), ("intenção_de_voto", Cat.VOTING), ("votação", Cat.VOTING),
    ("título_de_eleitor", Cat.VOTING), ("tituloEleitor", Cat.VOTING), ("zona_eleitoral", Cat.VOTING),
    ("seção-eleitoral", Cat.VOTING), ("eleições", Cat.VOTING), ("eleição_2022", Cat.VOTING),
    ("eleitores", Cat.VOTING), ("mesários", Cat.VOTING), ("plebiscito", Cat.VOTING),
    # opinião política e partido
    ("partido_político", Cat.POLITICAL), ("filiação_partidária", Cat.POLITICAL), ("filiacaoPartidaria", Cat.POLITICAL),
    ("opinião política", Cat.POLITICAL), ("militância", Cat.POLITICAL), ("ideologia", Cat.POLITICAL),
    ("esquerda_direita", Cat.POLITICAL), ("petista", Cat.POLITICAL), ("bolsonarista", Cat.POLITICAL),
    ("simpatizante_partido", Cat.POLITICAL), ("partidos", Cat.POLITICAL),
    # religião e crença
    ("religião", Cat.RELIGION), ("religiões", Cat.RELIGION), ("crença", Cat.RELIGION), ("crenças", Cat.RELIGION),
    ("crença_religiosa", Cat.RELIGION), ("igreja_que_frequenta", Cat.RELIGION), ("é_católico", Cat.RELIGION),
    ("evangélica", Cat.RELIGION), ("umbanda", Cat.RELIGION), ("candomblé", Cat.RELIGION), ("espírita", Cat.RELIGION),
    ("terreiro", Cat.RELIGION), ("ateu", Cat.RELIGION), ("muçulmano", Cat.RELIGION), ("judeu", Cat.RELIGION),
    ("batizado", Cat.RELIGION), ("culto", Cat.RELIGION), ("mesquita", Cat.RELIGION),
    # etnia e raça
    ("raça", Cat.ETHNICITY), ("raças", Cat.ETHNICITY), ("cor_ou_raça", Cat.ETHNICITY), ("cor_da_pele", Cat.ETHNICITY),
    ("etnia", Cat.ETHNICITY), ("grupo_étnico", Cat.ETHNICITY), ("indígena", Cat.ETHNICITY),
    ("povos_originários", Cat.ETHNICITY), ("quilombola", Cat.ETHNICITY), ("afrodescendente", Cat.ETHNICITY),
    ("pardo", Cat.ETHNICITY), ("cigano", Cat.ETHNICITY), ("mestiço", Cat.ETHNICITY),
    # vida sexual e orientação
    ("orientação_sexual", Cat.SEXUAL_LIFE), ("orientacaoSexual", Cat.SEXUAL_LIFE), ("vida_sexual", Cat.SEXUAL_LIFE),
    ("homossexual", Cat.SEXUAL_LIFE), ("lésbica", Cat.SEXUAL_LIFE), ("parceiro_do_mesmo_sexo", Cat.SEXUAL_LIFE),
    ("lgbtqia", Cat.SEXUAL_LIFE), ("bissexual", Cat.SEXUAL_LIFE), ("travesti", Cat.SEXUAL_LIFE),
    # sindicatos
    ("sindicato", Cat.TRADE_UNION), ("filiação_sindical", Cat.TRADE_UNION), ("sindicalizado", Cat.TRADE_UNION),
    ("contribuição_sindical", Cat.TRADE_UNION), ("delegado_sindical", Cat.TRADE_UNION), ("sindicatos", Cat.TRADE_UNION),
    # redes sociais e mensageiros
    ("redes_sociais", Cat.SOCIAL_MEDIA), ("rede social", Cat.SOCIAL_MEDIA), ("perfil_no_facebook", Cat.SOCIAL_MEDIA),
    ("conta_instagram", Cat.SOCIAL_MEDIA), ("usuário_do_telegram", Cat.SOCIAL_MEDIA),
    ("grupos_de_whatsapp", Cat.SOCIAL_MEDIA), ("whatsapp_grupos", Cat.SOCIAL_MEDIA), ("seguidores", Cat.SOCIAL_MEDIA),
    ("conta_do_tiktok", Cat.SOCIAL_MEDIA), ("canal_do_youtube", Cat.SOCIAL_MEDIA), ("kwai_usuario", Cat.SOCIAL_MEDIA),
    ("mídias_sociais", Cat.SOCIAL_MEDIA), ("conta_de_rede_social", Cat.SOCIAL_MEDIA),
    # biometria
    ("impressão_digital", Cat.BIOMETRIC), ("impressões_digitais", Cat.BIOMETRIC), ("digital_impressao", Cat.BIOMETRIC),
    ("biometria", Cat.BIOMETRIC), ("foto_do_rosto", Cat.BIOMETRIC), ("rosto", Cat.BIOMETRIC),
    ("reconhecimento_facial", Cat.BIOMETRIC), ("imagem_facial", Cat.BIOMETRIC), ("amostra_de_voz", Cat.BIOMETRIC),
    ("gravação_de_voz", Cat.BIOMETRIC), ("voz_amostra", Cat.BIOMETRIC), ("íris", Cat.BIOMETRIC),
    ("retina", Cat.BIOMETRIC), ("DNA", Cat.BIOMETRIC), ("perfil_genético", Cat.BIOMETRIC),
    ("datiloscopia", Cat.BIOMETRIC),
    # rastreamento de localização e identificadores de aparelho
    ("localização_em_tempo_real", Cat.LOCATION_TRACKING), ("tempo_real_localizacao", Cat.LOCATION_TRACKING),
    ("localização_atual", Cat.LOCATION_TRACKING), ("histórico_de_localização", Cat.LOCATION_TRACKING),
    ("geolocalização", Cat.LOCATION_TRACKING), ("rastreamento", Cat.LOCATION_TRACKING),
    ("rastreio_do_celular", Cat.LOCATION_TRACKING), ("coordenadas_gps", Cat.LOCATION_TRACKING),
    ("latitude", Cat.LOCATION_TRACKING), ("longitude", Cat.LOCATION_TRACKING),
    ("acompanhamento_de_localização", Cat.LOCATION_TRACKING), ("localizacao_ao_vivo", Cat.LOCATION_TRACKING),
    ("imei_do_aparelho", Cat.LOCATION_TRACKING), ("endereço_mac", Cat.LOCATION_TRACKING),
    ("id_de_publicidade", Cat.LOCATION_TRACKING), ("identificador_do_dispositivo", Cat.LOCATION_TRACKING),
    ("id_do_aparelho", Cat.LOCATION_TRACKING), ("endereço_ip", Cat.LOCATION_TRACKING),
    ("torre_de_celular", Cat.LOCATION_TRACKING), ("gps", Cat.LOCATION_TRACKING),
    # câmeras e CFTV
    ("câmera", Cat.SURVEILLANCE_CAMERA), ("câmeras_de_segurança", Cat.SURVEILLANCE_CAMERA),
    ("cftv", Cat.SURVEILLANCE_CAMERA), ("videomonitoramento", Cat.SURVEILLANCE_CAMERA),
    ("circuito_fechado", Cat.SURVEILLANCE_CAMERA), ("videovigilância", Cat.SURVEILLANCE_CAMERA),
    ("filmagem", Cat.SURVEILLANCE_CAMERA), ("gravação_de_vídeo", Cat.SURVEILLANCE_CAMERA),
    # pontuação de comportamento
    ("pontuação_de_comportamento", Cat.BEHAVIOUR_SCORE), ("comportamento_pontuacao", Cat.BEHAVIOUR_SCORE),
    ("nota_de_conduta", Cat.BEHAVIOUR_SCORE), ("lealdade", Cat.BEHAVIOUR_SCORE),
    ("nível_de_lealdade", Cat.BEHAVIOUR_SCORE),
    ("crédito_social", Cat.BEHAVIOUR_SCORE), ("ranking_de_pessoas", Cat.BEHAVIOUR_SCORE),
    ("reputação", Cat.BEHAVIOUR_SCORE), ("índice_de_comportamento", Cat.BEHAVIOUR_SCORE),
    ("avaliação_de_conduta", Cat.BEHAVIOUR_SCORE),
]  # fmt: skip

ALLOWED: list[str] = [
    "renda_do_domicílio", "renda_familiar", "renda_mensal", "renda_atual", "deficiência", "tipo_de_deficiência",
    "escolaridade", "anos_de_estudo", "nível_de_escolaridade", "moradia", "tipo_de_moradia", "tipo_de_domicílio",
    "material_do_telhado", "material_das_paredes", "material_do_piso", "número_de_cômodos", "numero_de_quartos",
    "dormitórios", "condição_crônica", "doença_crônica", "gravidez", "gestante", "semanas_de_gestação",
    "amamentação", "lactante", "ocupação", "ocupação_atual", "situação_de_trabalho", "situação_atual", "cpf",
    "nis", "data_de_nascimento", "sexo", "estado_civil", "união_estável", "parentesco", "responsável_familiar",
    "membros_do_domicílio", "filhos_menores", "crianças_na_escola", "frequência_escolar", "endereço",
    "endereço_residencial", "localização_do_domicílio", "localizacao_da_moradia", "município", "bairro",
    "cep", "ponto_de_referência", "telefone", "celular", "número_do_whatsapp", "email", "abastecimento_de_água",
    "energia_elétrica", "esgotamento_sanitário", "coleta_de_lixo", "combustível_para_cozinhar",
    "condição_de_ocupação", "aposentado", "pensão", "previdência_social", "veículo_próprio", "cultivo",
    "lavoura", "cultura", "razão_social", "motivo_da_evasão_escolar", "caráter_do_emprego", "certidão_de_nascimento",
    "valor_repartido", "participante", "serviço_militar", "indigente", "órfão", "nacionalidade", "língua_materna",
    "prova_de_vida", "acompanhamento_médico", "pré_natal", "vacinação", "peso", "altura", "desnutrição",
    "merenda_escolar", "bolsa_família", "benefício", "política_social", "rede_de_apoio", "deslocamento_forçado",
    "cargo_atual", "movimentação_da_conta", "classificação_socioeconômica_da_pessoa", "índice_de_vulnerabilidade",
    "pontuação_de_vulnerabilidade", "nível_socioeconômico", "carteira_de_motorista", "condutor_do_veículo",
    "auxílio_funeral", "urna_funerária", "disciplina_escolar", "nota_da_disciplina", "carteira_digital",
    "inclusão_digital", "câmara_municipal", "código_de_rastreio", "entrevista_cara_a_cara", "área_construída_m2",
    "sexo_ao_nascer", "identidade", "rg",
]  # fmt: skip


@pytest.mark.parametrize(("name", "expected"), PROHIBITED)
def test_prohibited_portuguese_names_are_refused_with_their_category(name: str, expected: Cat) -> None:
    assert prohibited_category(name) == expected


@pytest.mark.parametrize("name", ALLOWED)
def test_portuguese_registry_fields_are_allowed(name: str) -> None:
    assert prohibited_category(name) is None


def test_the_portuguese_batteries_are_large_and_cover_every_category() -> None:
    assert len(PROHIBITED) >= 100 and len(ALLOWED) >= 100
    assert {category for _, category in PROHIBITED} == set(Cat)
    assert not {name for name, _ in PROHIBITED} & set(ALLOWED)


@pytest.mark.parametrize(
    ("allowed", "refused"),
    [
        ("carteira_digital", "impressao_digital"),  # "digital" alone is no fingerprint
        ("caráter", "foto_cara"),
        ("cultivo", "culto"),
        ("localização_do_domicílio", "localização_atual"),
        ("câmara_municipal", "câmera"),
        ("urna_funerária", "votação"),
        ("nota_da_disciplina", "nota_de_conduta"),
    ],
)
def test_short_stems_do_not_catch_their_neighbours(allowed: str, refused: str) -> None:
    assert prohibited_category(allowed) is None
    assert prohibited_category(refused) is not None
