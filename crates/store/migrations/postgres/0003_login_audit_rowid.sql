-- PostgreSQL's login_audit id is an identity column already; SQLite drops AUTOINCREMENT here.
SELECT 1;
