"""What other apps tell the audience app (docs/people.md "Referrals"): the links app calls
`conversion_recorded` once for each conversion it stores, inside the same transaction.

It keeps a `ConversionContact` when the conversion came with an e-mail hash or through a
referral (a click on a referral's short link, or the referral's personal code in the website's
report; the code wins when both name a referral), and credits the referral's person with a
`referral` engagement for their loyalty score. Nothing is kept for other conversions.
"""

from __future__ import annotations

from django.utils import timezone

from stammtisch.audience import consume, loyalty, referrals
from stammtisch.audience.models import ConversionContact, Engagement, Kind, Person, Referral
from stammtisch.links.models import Conversion


def conversion_recorded(conversion: Conversion, *, email_hash: str = "", referral_code: str = "") -> None:
    referral = referrals.by_code(conversion.workspace_id, referral_code) if referral_code else None
    if referral is None and conversion.link_id is not None:
        referral = Referral.objects.filter(workspace_id=conversion.workspace_id, link_id=conversion.link_id).first()
    if not email_hash and referral is None:
        return
    _contact, created = ConversionContact.objects.get_or_create(
        conversion=conversion,
        defaults={"workspace_id": conversion.workspace_id, "email_hash": email_hash, "referral": referral},
    )
    if created and referral is not None and referral.person_id is not None:
        credit(referral.person_id, conversion)


def credit(person_id: int, conversion: Conversion) -> None:
    """The recommender's `referral` engagement for `conversion` (once per conversion), and their
    score, counts and stage moved forward."""
    person = Person.objects.select_for_update().filter(pk=person_id, erased_at__isnull=True).first()
    if person is None:
        return
    if Engagement.objects.filter(source=Engagement.Source.CONVERSION, source_id=conversion.pk).exists():
        return
    weight = loyalty.weight(Kind.REFERRAL)
    Engagement.objects.create(
        workspace_id=person.workspace_id,
        person=person,
        kind=Kind.REFERRAL,
        weight=weight,
        occurred_at=conversion.occurred_at,
        source=Engagement.Source.CONVERSION,
        source_id=conversion.pk,
    )
    consume.apply(person, Kind.REFERRAL, weight, conversion.occurred_at)
    consume.save_people([person], timezone.now())
