"""States, events and the transition table of the citizen journey.

attract -> home -> guide -> identify -> (face consent -> face) -> consent -> certificates
-> form -> review -> submitting -> result -> delivery -> rating -> goodbye -> attract

An ID card or identity code at attract/home/guide identifies first and picks the matter
after. ``cancel`` and the inactivity timeout work from every state.
"""

from __future__ import annotations

import enum


class State(enum.StrEnum):
    ATTRACT = "attract"
    HOME = "home"
    GUIDE = "guide"
    IDENTIFY = "identify"
    FACE_CONSENT = "face_consent"
    FACE = "face"
    CONSENT = "consent"
    CERTIFICATES = "certificates"
    FORM = "form"
    REVIEW = "review"
    SUBMITTING = "submitting"
    RESULT = "result"
    DELIVERY = "delivery"
    RATING = "rating"
    GOODBYE = "goodbye"


class Event(enum.StrEnum):
    START = "start"  # touch at the attract screen
    SELECT_MATTER = "select_matter"  # payload: matter
    BEGIN = "begin"  # "apply" on the guide
    CARD_ACCEPTED = "card_accepted"  # card read and checked; payload: holder, needs_face
    IDENTIFIED = "identified"  # payload: holder (identity code, or after face)
    FACE_CONSENT_GIVEN = "face_consent_given"
    FACE_DECLINED = "face_declined"
    FACE_VERIFIED = "face_verified"
    FACE_FAILED = "face_failed"
    CONSENT_GIVEN = "consent_given"  # payload: certificates, prepared
    CONSENT_DECLINED = "consent_declined"
    CONTINUE = "continue"
    FORM_DONE = "form_done"  # payload: form
    SUBMIT = "submit"
    SUBMITTED = "submitted"  # payload: receipt
    SUBMIT_FAILED = "submit_failed"  # payload: error
    CHOOSE_DELIVERY = "choose_delivery"
    DELIVERED = "delivered"  # payload: delivery
    RATED = "rated"
    FINISH = "finish"
    BACK = "back"
    CANCEL = "cancel"
    TIMEOUT = "timeout"


S = State
E = Event

# Ordinary transitions: (event, from-state) -> to-state. Events whose target depends on the
# session data (identification, back, cancel, timeout) are resolved by the machine.
TRANSITIONS: dict[tuple[Event, State], State] = {
    (E.START, S.ATTRACT): S.HOME,
    (E.SELECT_MATTER, S.HOME): S.GUIDE,
    (E.FACE_CONSENT_GIVEN, S.FACE_CONSENT): S.FACE,
    (E.FACE_DECLINED, S.FACE_CONSENT): S.IDENTIFY,
    (E.FACE_FAILED, S.FACE): S.IDENTIFY,
    (E.CONSENT_DECLINED, S.CONSENT): S.GUIDE,
    (E.CONTINUE, S.CERTIFICATES): S.FORM,
    (E.FORM_DONE, S.FORM): S.REVIEW,
    (E.SUBMIT, S.REVIEW): S.SUBMITTING,
    (E.SUBMITTED, S.SUBMITTING): S.RESULT,
    (E.SUBMIT_FAILED, S.SUBMITTING): S.REVIEW,
    (E.CHOOSE_DELIVERY, S.RESULT): S.DELIVERY,
    (E.DELIVERED, S.DELIVERY): S.RATING,
    (E.DELIVERED, S.RESULT): S.RATING,
    (E.RATED, S.RATING): S.GOODBYE,
    (E.FINISH, S.RATING): S.GOODBYE,
    (E.FINISH, S.RESULT): S.GOODBYE,
    (E.FINISH, S.GOODBYE): S.ATTRACT,
}

# Where identification may start (a card placed or a code shown).
IDENTIFY_FROM = frozenset({S.ATTRACT, S.HOME, S.GUIDE, S.IDENTIFY})

BACK: dict[State, State] = {
    S.HOME: S.ATTRACT,
    S.GUIDE: S.HOME,
    S.IDENTIFY: S.GUIDE,
    S.FACE_CONSENT: S.IDENTIFY,
    S.FACE: S.IDENTIFY,
    S.CONSENT: S.GUIDE,
    S.CERTIFICATES: S.CONSENT,
    S.FORM: S.CERTIFICATES,
    S.REVIEW: S.FORM,
}

# States that hold personal data on screen: a timeout there wipes at once.
PERSONAL = frozenset(
    {S.FACE_CONSENT, S.FACE, S.CONSENT, S.CERTIFICATES, S.FORM, S.REVIEW, S.SUBMITTING,
     S.RESULT, S.DELIVERY, S.RATING}
)

# States where the inactivity timer does not run (the kiosk is working, not the citizen).
NO_TIMEOUT = frozenset({S.ATTRACT, S.SUBMITTING})
