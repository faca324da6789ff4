-- The lab application's schema, modelled on the tutorial's t_trade_order.
-- Run on the first node of every shard (its partner gets it by replication),
-- by lab/app/deploy.yml and by tests/integration/test_lab_app.py.
-- Statements end with ';' at the end of a line; comments are whole lines.
CREATE DATABASE IF NOT EXISTS smooth_lab CHARACTER SET utf8mb4;

CREATE TABLE IF NOT EXISTS smooth_lab.t_trade_order (
  id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
  order_no VARCHAR(64) NOT NULL,
  account_no BIGINT UNSIGNED NOT NULL,
  amount DECIMAL(14,2) NOT NULL,
  status VARCHAR(16) NOT NULL DEFAULT 'NEW',
  map_version INT UNSIGNED NOT NULL,
  created_at DATETIME(6) NOT NULL,
  updated_at DATETIME(6) NOT NULL,
  UNIQUE KEY uk_order_no (order_no),
  KEY k_account (account_no)
) ENGINE=InnoDB;
