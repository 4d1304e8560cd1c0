"""thresher's own recognizers, in Presidio ``PatternRecognizer`` style: one module each.

Credentials (``API_KEY``, ``PRIVATE_KEY``, ``PASSWORD``, ``JWT``) are not in Presidio; the
name and address recognizers close recall gaps of spaCy's small English model.
"""

from __future__ import annotations

from presidio_analyzer import EntityRecognizer

from thresher.pii.recognizers.age_over_89 import AgeOver89Recognizer
from thresher.pii.recognizers.aws import AwsKeyRecognizer
from thresher.pii.recognizers.card_context import CardInContextRecognizer
from thresher.pii.recognizers.country import CountryRecognizer
from thresher.pii.recognizers.cued_phone import CuedShortPhoneRecognizer
from thresher.pii.recognizers.facility import FacilityRecognizer
from thresher.pii.recognizers.generic_secret import AssignedSecretRecognizer
from thresher.pii.recognizers.github import GitHubTokenRecognizer
from thresher.pii.recognizers.google import GoogleApiKeyRecognizer
from thresher.pii.recognizers.id_number import CuedIdNumberRecognizer
from thresher.pii.recognizers.jwt import JwtRecognizer
from thresher.pii.recognizers.nanp_phone import NanpPhoneRecognizer
from thresher.pii.recognizers.office_person import OfficeTitledPersonRecognizer
from thresher.pii.recognizers.openai import OpenAiKeyRecognizer
from thresher.pii.recognizers.person_context import PersonContextRecognizer
from thresher.pii.recognizers.phone_context import PhoneInContextRecognizer
from thresher.pii.recognizers.place_context import PlaceContextRecognizer
from thresher.pii.recognizers.place_in_organisation import PlaceInOrganisationRecognizer
from thresher.pii.recognizers.private_key import PrivateKeyRecognizer
from thresher.pii.recognizers.slack import SlackTokenRecognizer
from thresher.pii.recognizers.street_address import StreetAddressRecognizer
from thresher.pii.recognizers.stripe import StripeKeyRecognizer
from thresher.pii.recognizers.titled_person import TitledPersonRecognizer
from thresher.pii.recognizers.url_password import PasswordRecognizer

__all__ = [
    "AgeOver89Recognizer",
    "AssignedSecretRecognizer",
    "AwsKeyRecognizer",
    "CardInContextRecognizer",
    "CountryRecognizer",
    "CuedIdNumberRecognizer",
    "CuedShortPhoneRecognizer",
    "FacilityRecognizer",
    "GitHubTokenRecognizer",
    "GoogleApiKeyRecognizer",
    "JwtRecognizer",
    "NanpPhoneRecognizer",
    "OfficeTitledPersonRecognizer",
    "OpenAiKeyRecognizer",
    "PasswordRecognizer",
    "PersonContextRecognizer",
    "PhoneInContextRecognizer",
    "PlaceContextRecognizer",
    "PlaceInOrganisationRecognizer",
    "PrivateKeyRecognizer",
    "SlackTokenRecognizer",
    "StreetAddressRecognizer",
    "StripeKeyRecognizer",
    "TitledPersonRecognizer",
    "thresher_recognizers",
]


def thresher_recognizers(
    language: str = "en", *, places_in_organisations: bool = True
) -> list[EntityRecognizer]:
    """One instance of each thresher recognizer (``PlaceInOrganisationRecognizer`` only with
    ``places_in_organisations``)."""
    optional = (PlaceInOrganisationRecognizer,) if places_in_organisations else ()
    return [
        cls(supported_language=language)
        for cls in (
            AwsKeyRecognizer,
            GitHubTokenRecognizer,
            SlackTokenRecognizer,
            StripeKeyRecognizer,
            GoogleApiKeyRecognizer,
            OpenAiKeyRecognizer,
            AssignedSecretRecognizer,
            PrivateKeyRecognizer,
            PasswordRecognizer,
            JwtRecognizer,
            TitledPersonRecognizer,
            OfficeTitledPersonRecognizer,
            PersonContextRecognizer,
            StreetAddressRecognizer,
            CountryRecognizer,
            NanpPhoneRecognizer,
            PhoneInContextRecognizer,
            PlaceContextRecognizer,
            CardInContextRecognizer,
            CuedShortPhoneRecognizer,
            CuedIdNumberRecognizer,
            FacilityRecognizer,
            AgeOver89Recognizer,
            *optional,
        )
    ]
