from django import forms
from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.password_validation import validate_password

from laurels.accounts import services
from laurels.accounts.models import EmailAddress, User, normalize_email_address


class EmailAddressInline(admin.TabularInline):
    model = EmailAddress
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
class UserAdmin(DjangoUserAdmin):
    add_form = AdminUserCreationForm
    ordering = ["email"]
    list_display = ["email", "first_name", "last_name", "is_staff", "is_active", "date_joined"]
    list_filter = ["is_staff", "is_superuser", "is_active"]
    search_fields = ["email", "first_name", "last_name", "email_addresses__email", "entity_id"]
    readonly_fields = ["entity_id", "email", "date_joined", "last_login", "updated_at"]
    inlines = [EmailAddressInline]
    fieldsets = [
        (None, {"fields": ["entity_id", "email", "password"]}),
        ("Name", {"fields": ["first_name", "last_name"]}),
        ("Permissions", {"fields": ["is_active", "is_staff", "is_superuser", "groups"]}),
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

    def get_inlines(self, request, obj):
        return self.inlines if obj is not None else []

    def get_readonly_fields(self, request, obj=None):
        return self.readonly_fields if obj is not None else []

    def save_model(self, request, obj, form, change):
        if change:
            super().save_model(request, obj, form, change)
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

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        if change:
            services.user_primary_email_sync(user=form.instance)


@admin.register(EmailAddress)
class EmailAddressAdmin(admin.ModelAdmin):
    list_display = ["email", "user", "verified", "primary", "created_at"]
    list_filter = ["verified", "primary"]
    search_fields = ["email", "user__email"]
    raw_id_fields = ["user"]
