from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "dropmate.accounts"
    label = "accounts"
    verbose_name = "Accounts"
