"""The platforms' sample requests (examples/platforms/) and, per platform, mapping rows that read
its parameter names: what the platform route tests post and expect at Braze."""

from dataclasses import dataclass, field
from pathlib import Path

import requests

from mappings.models import FieldMapping, MappingSet

SAMPLES = Path(__file__).resolve().parent.parent / "examples" / "platforms"
TIMEOUT = 15


@dataclass(frozen=True)
class Platform:
    """One platform's sample and the mapping rows that read its parameter names."""

    id: str
    first_name: str
    email: str
    dob: tuple[str, list]
    phone: tuple[str, str]
    number: tuple[str, str, int] | None = None  # parameter, attribute, expected value
    absent: tuple[str, ...] = ()  # parameters holding null / "null" / "": never sent
    expected: dict = field(default_factory=dict)  # attribute -> value at Braze

    def sample(self) -> tuple[bytes, str]:
        if self.id == "twilio-studio":
            body = (SAMPLES / self.id / "request.txt").read_bytes().strip()
            return body, "application/x-www-form-urlencoded"
        return (SAMPLES / self.id / "request.json").read_bytes(), "application/json"


PLATFORMS = [
    Platform("dialogflow-cx", "given-name", "email", ("date-of-birth", ["dob"]),
             ("phone", "BR"), ("trips-per-year", "trips_per_year", 3), ("city",),
             {"first_name": "Ana Luíza", "email": "ana.souza@example.com",
              "dob": "1990-04-12", "phone": "+5511987654321"}),
    Platform("dialogflow-es", "given-name", "email", ("date-of-birth", ["dob"]),
             ("phone-number", "BR"), None, ("nickname",),
             {"first_name": "Ana Luíza", "email": "ana.souza@example.com",
              "dob": "1990-04-12", "phone": "+5511987654321"}),
    Platform("rasa", "first_name", "email", ("date_of_birth", ["dob"]), ("phone", "PT"),
             ("party_size", "party_size", 4), ("favourite_city",),
             {"first_name": "Inês", "email": "ines.ferreira@example.pt",
              "dob": "1990-04-12", "phone": "+351912345678"}),
    Platform("voiceflow", "name", "email", ("birthday", ["dob"]), ("phone", "JP"),
             ("trips_booked", "trips_booked", 3), ("nickname", "company"),
             {"first_name": "Kenji  Tanaka", "email": "kenji.tanaka@example.jp",
              "dob": "1988-03-03", "phone": "+819012345678"}),
    Platform("botpress", "firstName", "email", ("birthDate", [{"name": "dob", "order": "DMY"}]),
             ("phone", "ES"), ("tripsPerYear", "trips_per_year", 2), ("notes",),
             {"first_name": "Lucía", "email": "lucia.fernandez@example.es",
              "dob": "1985-11-07", "phone": "+34612345678"}),
    Platform("pypestream", "first_name", "email",
             ("date_of_birth", [{"name": "dob", "order": "DMY"}]), ("phone", "BR"), None, (),
             {"first_name": "Ana", "email": "ana.souza@example.com",
              "dob": "1990-04-12", "phone": "+5511987654321"}),
    Platform("twilio-studio", "first_name", "email",
             ("date_of_birth", [{"name": "dob", "order": "DMY"}]), ("phone", "GB"), None,
             ("company",),
             {"first_name": "Siân", "email": "sian.obrien@example.co.uk",
              "dob": "1992-02-29", "phone": "+447911123456"}),
    Platform("lex-v2", "FirstName", "Email", ("BirthDate", ["dob"]), ("Phone", "BR"), None, (),
             {"first_name": "Ana Luíza", "email": "ana.souza@example.com",
              "dob": "1990-04-12", "phone": "+5511987654321"}),
]  # fmt: skip
BY_ID = {platform.id: platform for platform in PLATFORMS}


def parameter(name: str) -> str:
    return f'bridge.parameters."{name}"'


def mapping_set_for(platform: Platform, environment, slug: str | None = None) -> MappingSet:
    mapping_set = MappingSet.objects.create(
        slug=slug or f"{platform.id}-bot", name=f"{platform.id} bot", environment=environment,
        identifier_source_path="bridge.session",
    )  # fmt: skip
    rows = [
        (platform.first_name, "first_name", ["trim"]),
        (platform.email, "email", ["trim", "lower"]),
        (platform.dob[0], "dob", platform.dob[1]),
        (platform.phone[0], "phone", [{"name": "phone", "region": platform.phone[1]}]),
        *[(name, name.replace("-", "_").lower(), ["trim"]) for name in platform.absent],
    ]
    if platform.number:
        rows.append((platform.number[0], platform.number[1], ["int"]))
    for position, (source, target, transforms) in enumerate(rows):
        FieldMapping.objects.create(
            mapping_set=mapping_set, position=position, source_path=parameter(source),
            target_attribute=target, transforms=transforms,
        )  # fmt: skip
    return mapping_set


def post_to_platform(live_server, platform_id, slug, body, content_type, token, **options):
    url = f"{live_server.url}/api/v1/platforms/{platform_id}/{slug}/"
    headers = {"Content-Type": content_type, **options.pop("headers", {})}
    auth = options.pop("auth", None)
    if auth is None:
        headers["Authorization"] = f"Bearer {token}"
    return requests.post(url, data=body, headers=headers, auth=auth, timeout=TIMEOUT, **options)
