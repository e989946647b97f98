"""Users and their addresses in the admin: every change goes through `accounts.services`,
as from the pages, the API and the command line, so that verifying an address withdraws
other accounts' claims to it, the primary address and `User.email` stay in step, and a
refusal (an address another account holds verified) is a message, not a server error
(`laurels.core.admin`).

An address's text is not edited: delete it and add the new one. Passwords change on the
admin's own password page (`User.save` ends the old credentials, `accounts.models`).
"""

from django import forms
from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.password_validation import validate_password
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice

from laurels.accounts import services, two_factor
from laurels.accounts.models import EmailAddress, User, normalize_email_address
from laurels.core.admin import RefusalsShown

ACCESS_FLAGS = ("is_active", "is_staff", "is_superuser")


class EmailAddressForm(forms.ModelForm):
    """An address as the admin shows it: its text fixed once saved. The rules the
    database's constraints hold (one verified owner, one primary address, one claim per
    account) are the services' to check, and they say what is wrong in words: the model's
    own check would judge each row against the other rows' old state and refuse a swap
    of the primary address made in one submit."""

    class Meta:
        model = EmailAddress
        fields = ["user", "email", "verified", "primary"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk is not None and "email" in self.fields:
            self.fields["email"].disabled = True

    def _get_validation_exclusions(self):
        """Django checks a model's constraints unless a field they name is left out of
        its validation; these fields' values are checked by their form fields."""
        return super()._get_validation_exclusions() | {"user", "verified", "primary"}

    def validate_unique(self) -> None:
        """Left to the services (see the class)."""


def address_changes_save(forms_: list, *, user: User | None = None) -> None:
    """Save the admin's address forms through the services: new addresses, then edits
    (those making an address primary first, so that un-ticking the old primary in the
    same submit finds it no longer primary), then deletions. Each service refuses what
    it must; the admin's transaction then rolls the whole page back."""
    added = [f for f in forms_ if f.instance.pk is None and not _deleted(f) and f.has_changed()]
    edited = [f for f in forms_ if f.instance.pk is not None and not _deleted(f)]
    edited = sorted(
        (f for f in edited if f.has_changed()), key=lambda f: not f.cleaned_data["primary"]
    )
    for form in added:
        form.instance = services.email_address_add(
            user=user or form.cleaned_data["user"],
            email=form.cleaned_data["email"],
            verified=form.cleaned_data["verified"],
            primary=form.cleaned_data["primary"],
        )
    for form in edited:
        changes = {name: form.cleaned_data[name] for name in ("verified", "primary")}
        form.instance = services.email_address_update(email_address=form.instance, **changes)
    for form in forms_:
        if form.instance.pk is not None and _deleted(form):
            services.email_address_delete(email_address=form.instance)


def _deleted(form) -> bool:
    return bool(getattr(form, "cleaned_data", {}).get("DELETE"))


class EmailAddressInline(admin.TabularInline):
    model = EmailAddress
    form = EmailAddressForm
    extra = 0
    fields = ["email", "verified", "primary", "verified_at"]
    readonly_fields = ["verified_at"]


class AdminUserCreationForm(forms.ModelForm):
    """Adding a user in the admin: the address is taken as verified (the admin vouches),
    from any sign-up that only claimed it (`services.user_create(verified=True)`)."""

    password1 = forms.CharField(label="Password", strip=False, widget=forms.PasswordInput)
    password2 = forms.CharField(label="Password again", strip=False, widget=forms.PasswordInput)

    class Meta:
        model = User
        fields = ["email", "first_name", "last_name"]

    def clean_email(self) -> str:
        address = normalize_email_address(self.cleaned_data["email"])
        if EmailAddress.objects.filter(email=address, verified=True).exists():
            raise forms.ValidationError(services.EmailAddressTaken.default_message)
        return address

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("password1") != cleaned.get("password2"):
            self.add_error("password2", "The two passwords differ.")
        elif cleaned.get("password1"):
            validate_password(cleaned["password1"], self.instance)
        return cleaned

    def save(self, commit: bool = True) -> User:
        # The admin calls save(commit=False) and then save_model, which makes the user
        # through the service; there is nothing many-to-many to save afterwards.
        self.save_m2m = lambda: None
        return self.instance


@admin.register(User)
class UserAdmin(RefusalsShown, DjangoUserAdmin):
    add_form = AdminUserCreationForm
    ordering = ["email"]
    list_display = ["email", "first_name", "last_name", "is_staff", "is_active", "date_joined"]
    list_filter = ["is_staff", "is_superuser", "is_active"]
    search_fields = ["email", "first_name", "last_name", "email_addresses__email", "entity_id"]
    readonly_fields = [
        "entity_id",
        "email",
        "date_joined",
        "last_login",
        "updated_at",
        "two_factor_status",
    ]
    inlines = [EmailAddressInline]
    actions = ["two_factor_reset"]
    fieldsets = [
        (None, {"fields": ["entity_id", "email", "password"]}),
        ("Name", {"fields": ["first_name", "last_name"]}),
        ("Permissions", {"fields": ["is_active", "is_staff", "is_superuser", "groups"]}),
        ("Two-factor log-in", {"fields": ["two_factor_status"]}),
        ("Dates", {"fields": ["date_joined", "last_login", "updated_at"]}),
    ]
    add_fieldsets = [
        (
            None,
            {
                "classes": ["wide"],
                "fields": ["email", "first_name", "last_name", "password1", "password2"],
            },
        ),
    ]

    @admin.display(description="Two-factor log-in", boolean=True)
    def two_factor_status(self, obj: User) -> bool:
        return two_factor.two_factor_on(obj)

    @admin.action(description="Reset two-factor log-in (the password alone logs in again)")
    def two_factor_reset(self, request, queryset):
        """For someone who lost their phone and their recovery codes; audited."""
        for user in queryset:
            services.two_factor_reset(user=user, actor=request.user)
        messages.success(request, f"Two-factor log-in reset for {len(queryset)} account(s).")

    def get_inlines(self, request, obj):
        return self.inlines if obj is not None else []

    def get_readonly_fields(self, request, obj=None):
        return self.readonly_fields if obj is not None else []

    def save_model(self, request, obj, form, change):
        if change:
            changed = set(form.changed_data)
            names = {n: form.cleaned_data[n] for n in ("first_name", "last_name") if n in changed}
            services.user_profile_update(user=obj, **names)
            flags = {name: form.cleaned_data[name] for name in ACCESS_FLAGS if name in changed}
            services.user_access_set(user=obj, **flags)
            return
        created = services.user_create(
            email=form.cleaned_data["email"],
            password=form.cleaned_data["password1"],
            first_name=form.cleaned_data.get("first_name", ""),
            last_name=form.cleaned_data.get("last_name", ""),
            verified=True,
        )
        obj.pk = created.pk
        obj.entity_id = created.entity_id
        obj.password = created.password

    def delete_model(self, request, obj):
        services.user_delete(user=obj)

    def delete_queryset(self, request, queryset):
        for user in queryset:
            services.user_delete(user=user)

    def save_formset(self, request, form, formset, change):
        if formset.model is not EmailAddress:
            super().save_formset(request, form, formset, change)
            return
        address_changes_save(formset.forms, user=form.instance)
        # What the admin's history entry of the change lists.
        formset.new_objects = [f.instance for f in formset.extra_forms if f.has_changed()]
        formset.changed_objects = [
            (f.instance, f.changed_data) for f in formset.initial_forms if f.has_changed()
        ]
        formset.deleted_objects = [f.instance for f in formset.deleted_forms]


@admin.register(EmailAddress)
class EmailAddressAdmin(RefusalsShown):
    form = EmailAddressForm
    list_display = ["email", "user", "verified", "primary", "created_at"]
    list_filter = ["verified", "primary"]
    search_fields = ["email", "user__email"]
    raw_id_fields = ["user"]
    readonly_fields = ["verified_at"]

    def get_readonly_fields(self, request, obj=None):
        """The account an address belongs to is fixed once added."""
        return ["user", "verified_at"] if obj is not None else ["verified_at"]

    def save_model(self, request, obj, form, change):
        address_changes_save([form])

    def delete_model(self, request, obj):
        services.email_address_delete(email_address=obj)

    def delete_queryset(self, request, queryset):
        for email_address in queryset:
            services.email_address_delete(email_address=email_address)


# django-otp's own admin pages would show each secret (and its QR code) to every admin and
# let devices be made or edited past `accounts.services`: an admin resets a person's
# two-factor log-in with the user list's action instead (`UserAdmin.two_factor_reset`).
for _model in (TOTPDevice, StaticDevice):
    if admin.site.is_registered(_model):
        admin.site.unregister(_model)
