"""Forms for the catalog pages. They validate input shape only; the rules live in ``catalog.services``."""

from __future__ import annotations

from django import forms

RATING_CHOICES = [(stars, f"{stars} star" if stars == 1 else f"{stars} stars") for stars in range(1, 6)]
_RATING_ERROR = "Choose a rating from 1 to 5 stars."


class ReviewForm(forms.Form):
    """A customer's review of a book: 1 to 5 stars, a title and a few words."""

    rating = forms.TypedChoiceField(
        label="Your rating",
        choices=RATING_CHOICES,
        coerce=int,
        widget=forms.RadioSelect,
        error_messages={"required": _RATING_ERROR, "invalid_choice": _RATING_ERROR},
    )
    title = forms.CharField(
        label="Title",
        max_length=200,
        error_messages={"required": "Give your review a title."},
        widget=forms.TextInput(attrs={"placeholder": "Sum it up in a line", "autocomplete": "off"}),
    )
    body = forms.CharField(
        label="Your review",
        max_length=10_000,
        error_messages={"required": "Write a few words about the book."},
        widget=forms.Textarea(attrs={"rows": 7, "placeholder": "What did you like or dislike?"}),
        help_text="Up to 10,000 characters. Reviews are public and show your username.",
    )
