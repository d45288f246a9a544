"""The API's pagination: DRF's page numbers, without COUNT(*) when one page holds all.

A list answer says how many rows there are in all. Django's paginator asks the database
(SELECT COUNT(*)) before it reads the page; most users' lists (projects, runs, steps) fit
in the first page, and then the rows read are the count. The project list went from two
queries to one (besides the signed-in user's) for anyone with fewer than PAGE_SIZE
projects (bench/api_load.py, 2026-11-30).
"""

from django.core.paginator import Page, Paginator
from rest_framework.pagination import PageNumberPagination


class FirstPageCountingPaginator(Paginator):
    """Django's paginator; a short first page is its own count."""

    def page(self, number: int | str) -> Page:
        if number not in (1, "1") or self.orphans or not self.allow_empty_first_page:
            return super().page(number)
        rows = list(self.object_list[: self.per_page])
        if len(rows) < self.per_page:
            self.__dict__["count"] = len(rows)  # ``count`` is a cached_property
        # A full first page: the count is asked for when the answer needs it, as before.
        return Page(rows, 1, self)


class PageNumbers(PageNumberPagination):
    django_paginator_class = FirstPageCountingPaginator
