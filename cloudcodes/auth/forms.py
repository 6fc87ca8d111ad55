from __future__ import annotations

from wtforms import BooleanField, EmailField, PasswordField, StringField
from wtforms.validators import DataRequired, EqualTo, Length

from cloudcodes.auth.passwords import MAX_LENGTH, MIN_LENGTH
from cloudcodes.forms import PortalForm

NEW_PASSWORD_HELP = f"At least {MIN_LENGTH} characters. A few unrelated words are strong and easy to remember."


class LoginForm(PortalForm):
    email = EmailField("E-mail address", validators=[DataRequired("Enter your e-mail address."), Length(max=254)])
    password = PasswordField("Password", validators=[DataRequired("Enter your password."), Length(max=MAX_LENGTH)])
    remember = BooleanField("Keep me logged in on this device")


class SecondFactorForm(PortalForm):
    code = StringField(
        "Authentication code",
        validators=[DataRequired("Enter the 6-digit code from your app, or a recovery code."), Length(max=20)],
        description="The 6-digit code from your authenticator app, or one of your recovery codes.",
    )


class NewPasswordMixin:
    new_password = PasswordField(
        "New password",
        validators=[DataRequired("Choose a new password."), Length(max=MAX_LENGTH)],
        description=NEW_PASSWORD_HELP,
    )
    confirm_password = PasswordField(
        "Repeat the new password",
        validators=[DataRequired("Repeat the new password."), EqualTo("new_password", "The two passwords differ.")],
    )


class ChangePasswordForm(NewPasswordMixin, PortalForm):
    current_password = PasswordField("Current password", validators=[DataRequired("Enter your current password.")])


class ResetPasswordForm(NewPasswordMixin, PortalForm):
    pass


class ForgotPasswordForm(PortalForm):
    email = EmailField("E-mail address", validators=[DataRequired("Enter your e-mail address."), Length(max=254)])


class EnableTwoFactorForm(PortalForm):
    code = StringField(
        "Code from your app",
        validators=[DataRequired("Enter the 6-digit code your app shows."), Length(max=10)],
        description="After scanning, your app shows a new 6-digit code every 30 seconds.",
    )


class PasswordConfirmForm(PortalForm):
    password = PasswordField("Your password", validators=[DataRequired("Enter your password to confirm.")])


class EmptyForm(PortalForm):
    """A form with only the CSRF token, for buttons such as "Log out"."""
