#!/usr/bin/env bash
# Builds the example SQLite databases used by `make demo`, the CLI tests and
# the examples: examples/data/users.sqlite (source db_users) and
# examples/data/orders.sqlite (source db_orders), deterministically, with the
# sqlite3 CLI. Idempotent: a file is rebuilt only when it is missing or older
# than this script. Usage: scripts/make-example-data.sh [BUILD_DIR]
# (BUILD_DIR is accepted for symmetry with the other scripts; the example data
# lives in the source tree, where the catalog's relative paths point.)
set -euo pipefail
cd "$(dirname "$0")/.."
script="scripts/make-example-data.sh"
data="examples/data"
mkdir -p "$data"

if ! command -v sqlite3 >/dev/null 2>&1; then
  echo "make-example-data: the sqlite3 CLI is missing (apt-get install sqlite3)" >&2
  exit 1
fi

# build FILE SQL: writes FILE atomically (temp file, then rename) unless it is
# already newer than this script.
build() {
  local file="$1" sql="$2"
  if [ -f "$file" ] && [ "$file" -nt "$script" ]; then
    return 0
  fi
  local tmp="$file.tmp.$$"
  rm -f "$tmp"
  if ! printf '%s\n' "$sql" | sqlite3 -bail "$tmp"; then
    rm -f "$tmp"
    echo "make-example-data: failed to build $file" >&2
    exit 1
  fi
  mv -f "$tmp" "$file"
}

# Five users in Paris/Lyon/Berlin; Emma (Paris) and Greta (Berlin) have no
# orders. Names are plain ASCII except one, to show UTF-8 passing through.
build "$data/users.sqlite" "
BEGIN;
CREATE TABLE users (
  id    INTEGER PRIMARY KEY,
  name  TEXT NOT NULL,
  city  TEXT NOT NULL,
  email TEXT
);
INSERT INTO users (id, name, city, email) VALUES
  (1, 'Alice',  'Paris',  'alice@example.com'),
  (2, 'Bob',    'Lyon',   'bob@example.com'),
  (3, 'Chloé',  'Paris',  'chloe@example.com'),
  (4, 'Dieter', 'Berlin', NULL),
  (5, 'Emma',   'Paris',  'emma@example.com'),
  (6, 'Farid',  'Lyon',   'farid@example.com'),
  (7, 'Greta',  'Berlin', 'greta@example.com');
CREATE INDEX users_city ON users (city);
COMMIT;
"

# Orders with exact decimal amounts. SQLite has no decimal type: a column
# declared DECIMAL(10,2) gets NUMERIC affinity and would store '9.50' as the
# REAL 9.5. A declared type of "DECIMAL TEXT(10,2)" has TEXT affinity (its
# name contains TEXT), so the exact digits are kept, and it starts with
# DECIMAL, so the sqlite provider returns the cells as decimals: "9.50".
build "$data/orders.sqlite" "
BEGIN;
CREATE TABLE orders (
  order_id  INTEGER PRIMARY KEY,
  user_id   INTEGER NOT NULL,
  amount    DECIMAL TEXT(10,2) NOT NULL,  -- exact digits, e.g. '9.50'
  placed_at TIMESTAMP NOT NULL          -- ISO-8601 text
);
INSERT INTO orders (order_id, user_id, amount, placed_at) VALUES
  (101, 1, '9.50',   '2024-05-01 10:00:00'),
  (102, 1, '120.00', '2024-05-03 16:30:00'),
  (103, 3, '42.10',  '2024-05-04 09:15:00'),
  (104, 2, '15.00',  '2024-05-04 12:00:00'),
  (105, 4, '7.25',   '2024-05-05 08:45:00'),
  (106, 3, '0.99',   '2024-05-06 19:20:00'),
  (107, 6, '300.00', '2024-05-07 11:11:00'),
  (108, 1, '18.40',  '2024-05-08 14:00:00');
CREATE INDEX orders_user_id ON orders (user_id);
CREATE TABLE order_items (
  item_id  INTEGER PRIMARY KEY,
  order_id INTEGER NOT NULL,
  sku      TEXT NOT NULL,
  qty      INTEGER NOT NULL,
  price    DECIMAL TEXT(10,2) NOT NULL
);
INSERT INTO order_items (item_id, order_id, sku, qty, price) VALUES
  (1001, 101, 'TEA-GREEN',  1, '9.50'),
  (1002, 102, 'KETTLE',     1, '99.00'),
  (1003, 102, 'MUG',        3, '7.00'),
  (1004, 103, 'BOOK-SQL',   1, '42.10'),
  (1005, 104, 'PEN',       10, '1.50'),
  (1006, 105, 'STICKER',    5, '1.45'),
  (1007, 106, 'CANDY',      1, '0.99'),
  (1008, 107, 'CHAIR',      2, '150.00'),
  (1009, 108, 'TEA-BLACK',  2, '9.20');
CREATE INDEX order_items_order_id ON order_items (order_id);
COMMIT;
"
