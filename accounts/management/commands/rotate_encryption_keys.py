from django.core.management.base import BaseCommand

from accounts.services import keys_rotate_encryption


class Command(BaseCommand):
    help = (
        "Re-encrypt every stored provider key with the first key in "
        "SAMOKODER_ENCRYPTION_KEYS, so older keys can then be removed from the list."
    )

    def handle(self, *args, **options) -> None:
        count = keys_rotate_encryption()
        self.stdout.write(self.style.SUCCESS(f"Re-encrypted {count} stored key(s)."))
