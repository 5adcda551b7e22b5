#!/usr/bin/python3
# Django's ORM (Debian's python3-django, on MySQLdb) against a MySQL database: migrate, then 6
# threads (a connection each, more than shardpool's servers) running transactional CRUD with
# SELECT ... FOR UPDATE and rolled-back atomic blocks. Run directly and through transaction
# pooling, the printed lines must be the same (integration/mysql_pooling_test.cpp).
#
#   mysql_django.py   (MYSQL_HOST, MYSQL_PORT, MYSQL_USER, MYSQL_PASSWORD, MYSQL_DATABASE)
import os
import sys
import tempfile
import threading

APP = tempfile.mkdtemp(prefix="sp_django_")
os.makedirs(os.path.join(APP, "shop", "migrations"))
for name in ("shop/__init__.py", "shop/migrations/__init__.py"):
    open(os.path.join(APP, name), "w").close()
with open(os.path.join(APP, "shop", "models.py"), "w") as f:
    f.write(
        "from django.db import models\n"
        "class Item(models.Model):\n"
        "    name = models.CharField(max_length=50, unique=True)\n"
        "    qty = models.IntegerField(default=0)\n"
        "    note = models.TextField(blank=True)\n"
        "class Counter(models.Model):\n"
        "    n = models.IntegerField(default=0)\n")
sys.path.insert(0, APP)

import django  # noqa: E402
from django.conf import settings  # noqa: E402

env = os.environ
settings.configure(
    DATABASES={"default": {
        "ENGINE": "django.db.backends.mysql", "HOST": env["MYSQL_HOST"],
        "PORT": env["MYSQL_PORT"], "USER": env["MYSQL_USER"],
        "PASSWORD": env["MYSQL_PASSWORD"], "NAME": env["MYSQL_DATABASE"],
        "CONN_MAX_AGE": 60}},
    INSTALLED_APPS=["shop"], USE_TZ=True, TIME_ZONE="UTC",
    DEFAULT_AUTO_FIELD="django.db.models.AutoField")
django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import IntegrityError, connection, transaction  # noqa: E402
from django.db.models import Sum  # noqa: E402
from shop.models import Counter, Item  # noqa: E402

call_command("makemigrations", "shop", verbosity=0)
call_command("migrate", verbosity=0)
print("tables:", sorted(t for t in connection.introspection.table_names()
                        if t.startswith(("shop_", "django_"))))
Counter.objects.create(n=0)
errors = []
isolation = set()


def worker(w):
    try:
        with connection.cursor() as cur:
            cur.execute("SELECT @@tx_isolation, @@sql_mode")
            isolation.add(cur.fetchone())
        for i in range(10):
            with transaction.atomic():
                c = Counter.objects.select_for_update().get(pk=1)
                c.n += 1
                c.save()
                Item.objects.create(name="w%d-%d" % (w, i), qty=i, note="x" * (i * 100))
            try:
                with transaction.atomic():
                    Item.objects.filter(name="w%d-%d" % (w, i)).update(qty=-1)
                    Item.objects.create(name="w%d-0" % w)  # a duplicate: all rolled back
            except IntegrityError:
                pass
        Item.objects.filter(name__startswith="w%d-" % w, qty__gte=5).update(note="big")
    except Exception as e:  # reported, compared
        errors.append("%d: %r" % (w, e))
    finally:
        connection.close()


threads = [threading.Thread(target=worker, args=(w,)) for w in range(6)]
for t in threads:
    t.start()
for t in threads:
    t.join()
print("errors:", errors)
print("session:", sorted(isolation))
print("counter:", Counter.objects.get(pk=1).n)
print("items:", Item.objects.count(), Item.objects.aggregate(Sum("qty")),
      Item.objects.filter(note="big").count(), Item.objects.filter(qty=-1).count())
print("first/last:", list(Item.objects.order_by("name").values_list("name", "qty")[:3]),
      list(Item.objects.order_by("-name").values_list("name", flat=True)[:2]))
print("done")
