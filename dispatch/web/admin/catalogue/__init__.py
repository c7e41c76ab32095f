"""French words of the staff pages, one module per area (``WORDS``: English id → French).

`dispatch.web.admin.words` gathers every module here; the ids shared by every page (menu,
errors, login) stay in `words.STAFF`.
"""
