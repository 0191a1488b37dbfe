"""English: at least 100 prohibited field names, in every disguise, and the fields a registry really needs."""

from __future__ import annotations

import pytest

from carnet.registry.policy import ProhibitedCategory as Cat
from carnet.registry.policy import prohibited_category

PROHIBITED: list[tuple[str, Cat]] = [
    # voting and elections
    ("voted_in_2018", Cat.VOTING), ("VoteIntention", Cat.VOTING), ("voter-id", Cat.VOTING),
    ("polling_station", Cat.VOTING), ("pollingStation", Cat.VOTING), ("election_turnout", Cat.VOTING),
    ("elections", Cat.VOTING), ("ballots_cast", Cat.VOTING), ("electoral_roll", Cat.VOTING),
    ("referendum_vote", Cat.VOTING), ("suffrage", Cat.VOTING), ("votes", Cat.VOTING),
    # political opinion and party
    ("political_party", Cat.POLITICAL), ("party_affiliation", Cat.POLITICAL), ("PartyMember", Cat.POLITICAL),
    ("political.views", Cat.POLITICAL), ("ideology", Cat.POLITICAL), ("partisan_lean", Cat.POLITICAL),
    ("left_wing", Cat.POLITICAL), ("right-wing", Cat.POLITICAL), ("opposition_supporter_party", Cat.POLITICAL),
    ("militant", Cat.POLITICAL), ("communist", Cat.POLITICAL), ("parties", Cat.POLITICAL),
    # religion and belief
    ("religion", Cat.RELIGION), ("religious_belief", Cat.RELIGION), ("beliefs", Cat.RELIGION),
    ("faith", Cat.RELIGION), ("creed", Cat.RELIGION), ("church_member", Cat.RELIGION),
    ("mosque_attendance", Cat.RELIGION), ("is_catholic", Cat.RELIGION), ("evangelical", Cat.RELIGION),
    ("atheist", Cat.RELIGION), ("cult_member", Cat.RELIGION), ("baptized", Cat.RELIGION),
    ("jewish", Cat.RELIGION), ("muslim", Cat.RELIGION),
    # ethnicity and race
    ("race", Cat.ETHNICITY), ("races", Cat.ETHNICITY), ("ethnic_group", Cat.ETHNICITY),
    ("Ethnicity", Cat.ETHNICITY), ("skin_colour", Cat.ETHNICITY), ("skinColor", Cat.ETHNICITY),
    ("indigenous_people", Cat.ETHNICITY), ("tribe", Cat.ETHNICITY), ("ancestry", Cat.ETHNICITY),
    ("racial_category", Cat.ETHNICITY), ("caste", Cat.ETHNICITY), ("first_nations", Cat.ETHNICITY),
    # sexual life and orientation
    ("sexual_orientation", Cat.SEXUAL_LIFE), ("orientation_sexual", Cat.SEXUAL_LIFE), ("sex_life", Cat.SEXUAL_LIFE),
    ("SexLife", Cat.SEXUAL_LIFE), ("gay", Cat.SEXUAL_LIFE), ("same_sex_partner", Cat.SEXUAL_LIFE),
    ("lgbtq", Cat.SEXUAL_LIFE), ("bisexual", Cat.SEXUAL_LIFE), ("sexual_partners", Cat.SEXUAL_LIFE),
    # trade unions
    ("trade_union", Cat.TRADE_UNION), ("union_member", Cat.TRADE_UNION), ("unionized", Cat.TRADE_UNION),
    ("union-dues", Cat.TRADE_UNION), ("labor_union", Cat.TRADE_UNION), ("labourUnion", Cat.TRADE_UNION),
    ("shop_steward", Cat.TRADE_UNION), ("union_rep", Cat.TRADE_UNION),
    # social media and messaging accounts
    ("social_media", Cat.SOCIAL_MEDIA), ("social media handle", Cat.SOCIAL_MEDIA),
    ("socialMediaAccount", Cat.SOCIAL_MEDIA), ("account_social_media", Cat.SOCIAL_MEDIA),
    ("facebook_id", Cat.SOCIAL_MEDIA), ("twitter_handle", Cat.SOCIAL_MEDIA), ("x_handle", Cat.SOCIAL_MEDIA),
    ("instagram", Cat.SOCIAL_MEDIA), ("telegram_username", Cat.SOCIAL_MEDIA), ("whatsapp_groups", Cat.SOCIAL_MEDIA),
    ("signal_account", Cat.SOCIAL_MEDIA), ("messenger_profile", Cat.SOCIAL_MEDIA), ("followers", Cat.SOCIAL_MEDIA),
    ("youtube_channel", Cat.SOCIAL_MEDIA), ("hashtags", Cat.SOCIAL_MEDIA), ("user_telegram", Cat.SOCIAL_MEDIA),
    # biometric templates and samples
    ("fingerprint", Cat.BIOMETRIC), ("fingerprints", Cat.BIOMETRIC), ("thumbprint", Cat.BIOMETRIC),
    ("face_photo", Cat.BIOMETRIC), ("photo_of_face", Cat.BIOMETRIC), ("faces", Cat.BIOMETRIC),
    ("facial_image", Cat.BIOMETRIC), ("face_recognition_template", Cat.BIOMETRIC), ("voice_sample", Cat.BIOMETRIC),
    ("voice_recording", Cat.BIOMETRIC), ("recording_of_voice", Cat.BIOMETRIC), ("voiceprint", Cat.BIOMETRIC),
    ("iris_scan", Cat.BIOMETRIC), ("retina", Cat.BIOMETRIC), ("biometric_template", Cat.BIOMETRIC),
    ("dna_profile", Cat.BIOMETRIC), ("selfie", Cat.BIOMETRIC),
    # location tracking and device identifiers
    ("real_time_location", Cat.LOCATION_TRACKING), ("location_real_time", Cat.LOCATION_TRACKING),
    ("live_location", Cat.LOCATION_TRACKING), ("location_history", Cat.LOCATION_TRACKING),
    ("history_of_location", Cat.LOCATION_TRACKING), ("current_location", Cat.LOCATION_TRACKING),
    ("gps", Cat.LOCATION_TRACKING), ("gps_coordinates", Cat.LOCATION_TRACKING), ("GPSData", Cat.LOCATION_TRACKING),
    ("geolocation", Cat.LOCATION_TRACKING), ("lat_lon", Cat.LOCATION_TRACKING), ("longitude", Cat.LOCATION_TRACKING),
    ("tracking", Cat.LOCATION_TRACKING), ("phone_tracker", Cat.LOCATION_TRACKING),
    ("whereabouts", Cat.LOCATION_TRACKING), ("imei", Cat.LOCATION_TRACKING), ("IMSI", Cat.LOCATION_TRACKING),
    ("mac_address", Cat.LOCATION_TRACKING), ("MACAddress", Cat.LOCATION_TRACKING),
    ("advertising_id", Cat.LOCATION_TRACKING), ("ad_id", Cat.LOCATION_TRACKING), ("idfa", Cat.LOCATION_TRACKING),
    ("device_id", Cat.LOCATION_TRACKING), ("deviceIdentifier", Cat.LOCATION_TRACKING),
    ("ip_address", Cat.LOCATION_TRACKING), ("cell_tower_id", Cat.LOCATION_TRACKING),
    ("geofence", Cat.LOCATION_TRACKING), ("location_ping", Cat.LOCATION_TRACKING),
    # cameras and CCTV
    ("camera", Cat.SURVEILLANCE_CAMERA), ("cameras", Cat.SURVEILLANCE_CAMERA),
    ("cctv_footage", Cat.SURVEILLANCE_CAMERA),
    ("security_camera_image", Cat.SURVEILLANCE_CAMERA), ("camera_feed", Cat.SURVEILLANCE_CAMERA),
    ("video_surveillance", Cat.SURVEILLANCE_CAMERA),
    ("closed_circuit_tv", Cat.SURVEILLANCE_CAMERA), ("bodycam", Cat.SURVEILLANCE_CAMERA),
    ("video_recording", Cat.SURVEILLANCE_CAMERA),
    # behaviour scores
    ("behaviour_score", Cat.BEHAVIOUR_SCORE), ("behavior_score", Cat.BEHAVIOUR_SCORE),
    ("score_behaviour", Cat.BEHAVIOUR_SCORE), ("conduct_rating", Cat.BEHAVIOUR_SCORE),
    ("social_credit", Cat.BEHAVIOUR_SCORE), ("social_score", Cat.BEHAVIOUR_SCORE), ("loyalty", Cat.BEHAVIOUR_SCORE),
    ("loyalty_level", Cat.BEHAVIOUR_SCORE), ("citizen_ranking_person", Cat.BEHAVIOUR_SCORE),
    ("person_rank", Cat.BEHAVIOUR_SCORE), ("trust_score", Cat.BEHAVIOUR_SCORE), ("reputation", Cat.BEHAVIOUR_SCORE),
    ("attitude_index", Cat.BEHAVIOUR_SCORE),
]  # fmt: skip

ALLOWED: list[str] = [
    "household_income", "monthly_income", "income_current", "disability", "disability_type", "schooling",
    "years_of_schooling", "education_level", "housing", "housing_type", "dwelling_type", "roof_material",
    "wall_material", "floor_material", "number_of_rooms", "rooms_for_sleeping", "chronic_condition",
    "chronic_illness", "pregnancy", "pregnant", "weeks_pregnant", "breastfeeding", "lactating", "occupation",
    "employment_status", "national_id", "date_of_birth", "sex", "sex_at_birth", "gender", "marital_status",
    "civil_union", "relationship_to_head", "head_of_household", "household_size", "children_under_five",
    "children_in_school", "school_attendance", "address", "address_line", "dwelling_location",
    "location_of_dwelling", "municipality", "parish", "postal_code", "landmark", "phone", "mobile_number",
    "whatsapp_number", "email", "water_source", "electricity", "cooking_fuel", "sanitation", "tenure",
    "overcrowding", "pension", "social_security_number", "vehicle_owned", "crops", "cultivated_land",
    "culture", "reason_for_leaving_school", "character_reference", "birth_certificate", "third_party_payer",
    "responsible_party", "participation_rate", "partial_payment", "military_service", "devoted_hours",
    "indigent_status", "orphan", "nationality", "mother_tongue", "proof_of_life", "medical_follow_up",
    "prenatal_checkups", "vaccinations", "weight", "height", "malnutrition", "school_meals", "scholarship",
    "social_policy_code", "support_network", "social_network_size", "forced_displacement", "job_position",
    "job_position_current", "account_movements", "vulnerability_score", "poverty_index", "proxy_means_test_score",
    "socioeconomic_level", "driver_licence", "vehicle_conductor", "funeral_assistance", "surface_m2",
    "interface_language", "face_to_face_interview", "tracking_number", "tracer_id", "longitudinal_weight",
    "latrine_type", "selector_value", "devices_owned_count",
    "credit_line", "trace_elements_supplement", "registered_social_pension", "social_mediator",
    "caravan_household", "bracelet_size",
]  # fmt: skip


@pytest.mark.parametrize(("name", "expected"), PROHIBITED)
def test_prohibited_english_names_are_refused_with_their_category(name: str, expected: Cat) -> None:
    assert prohibited_category(name) == expected


@pytest.mark.parametrize("name", ALLOWED)
def test_english_registry_fields_are_allowed(name: str) -> None:
    assert prohibited_category(name) is None


def test_the_english_batteries_are_large_and_cover_every_category() -> None:
    assert len(PROHIBITED) >= 100 and len(ALLOWED) >= 100
    assert {category for _, category in PROHIBITED} == set(Cat)
    assert not {name for name, _ in PROHIBITED} & set(ALLOWED)


@pytest.mark.parametrize(
    ("allowed", "refused"),
    [
        ("tracer", "race"),
        ("surface", "face"),
        ("interface", "faces"),
        ("culture", "cult"),
        ("devoted", "voted"),
        ("electricity", "electoral"),
        ("dogpsychology", "gps_data"),
        ("machine_operator", "mac_address"),
        ("partial", "party"),
        ("trace_elements_supplement", "location_trace"),
    ],
)
def test_short_stems_do_not_catch_their_neighbours(allowed: str, refused: str) -> None:
    assert prohibited_category(allowed) is None
    assert prohibited_category(refused) is not None
