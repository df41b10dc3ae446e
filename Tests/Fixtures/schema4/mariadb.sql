/*M!999999\- enable the sandbox mode */ 

/*!40101 SET @OLD_CHARACTER_SET_CLIENT=@@CHARACTER_SET_CLIENT */;
/*!40101 SET @OLD_CHARACTER_SET_RESULTS=@@CHARACTER_SET_RESULTS */;
/*!40101 SET @OLD_COLLATION_CONNECTION=@@COLLATION_CONNECTION */;
/*!40101 SET NAMES utf8mb4 */;
/*!40103 SET @OLD_TIME_ZONE=@@TIME_ZONE */;
/*!40103 SET TIME_ZONE='+00:00' */;
/*!40014 SET @OLD_UNIQUE_CHECKS=@@UNIQUE_CHECKS, UNIQUE_CHECKS=0 */;
/*!40014 SET @OLD_FOREIGN_KEY_CHECKS=@@FOREIGN_KEY_CHECKS, FOREIGN_KEY_CHECKS=0 */;
/*!40101 SET @OLD_SQL_MODE=@@SQL_MODE, SQL_MODE='NO_AUTO_VALUE_ON_ZERO' */;
/*!40111 SET @OLD_SQL_NOTES=@@SQL_NOTES, SQL_NOTES=0 */;
DROP TABLE IF EXISTS `fixture_event_store_lock`;
/*!40101 SET @saved_cs_client     = @@character_set_client */;
/*!40101 SET character_set_client = utf8mb4 */;
CREATE TABLE `fixture_event_store_lock` (
  `id` int(11) NOT NULL,
  PRIMARY KEY (`id`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
/*!40101 SET character_set_client = @saved_cs_client */;

LOCK TABLES `fixture_event_store_lock` WRITE;
/*!40000 ALTER TABLE `fixture_event_store_lock` DISABLE KEYS */;
INSERT INTO `fixture_event_store_lock` VALUES
(1);
/*!40000 ALTER TABLE `fixture_event_store_lock` ENABLE KEYS */;
UNLOCK TABLES;
DROP TABLE IF EXISTS `fixture_event_store_schema`;
/*!40101 SET @saved_cs_client     = @@character_set_client */;
/*!40101 SET character_set_client = utf8mb4 */;
CREATE TABLE `fixture_event_store_schema` (
  `id` int(11) NOT NULL,
  `version` int(11) NOT NULL,
  PRIMARY KEY (`id`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
/*!40101 SET character_set_client = @saved_cs_client */;

LOCK TABLES `fixture_event_store_schema` WRITE;
/*!40000 ALTER TABLE `fixture_event_store_schema` DISABLE KEYS */;
INSERT INTO `fixture_event_store_schema` VALUES
(1,4);
/*!40000 ALTER TABLE `fixture_event_store_schema` ENABLE KEYS */;
UNLOCK TABLES;
DROP TABLE IF EXISTS `fixture_event_streams`;
/*!40101 SET @saved_cs_client     = @@character_set_client */;
/*!40101 SET character_set_client = utf8mb4 */;
CREATE TABLE `fixture_event_streams` (
  `id` bigint(20) NOT NULL AUTO_INCREMENT,
  `name` varbinary(150) NOT NULL,
  `category` varbinary(150) DEFAULT NULL,
  `metadata` longtext NOT NULL CHECK (json_valid(`metadata`)),
  `version` bigint(20) NOT NULL DEFAULT 0,
  `created_at` datetime(6) NOT NULL,
  PRIMARY KEY (`id`),
  UNIQUE KEY `fixture_event_streams_name` (`name`),
  KEY `fixture_event_streams_category` (`category`)
) ENGINE=InnoDB AUTO_INCREMENT=3 DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
/*!40101 SET character_set_client = @saved_cs_client */;

LOCK TABLES `fixture_event_streams` WRITE;
/*!40000 ALTER TABLE `fixture_event_streams` DISABLE KEYS */;
INSERT INTO `fixture_event_streams` VALUES
(1,'account-1','account','{\"owner\":\"ZoÃ«\",\"retention\":30,\"vip\":true}',3,'2026-12-02 00:19:31.449464'),
(2,'account-2','account','{}',1,'2026-12-02 00:19:31.525495');
/*!40000 ALTER TABLE `fixture_event_streams` ENABLE KEYS */;
UNLOCK TABLES;
DROP TABLE IF EXISTS `fixture_events`;
/*!40101 SET @saved_cs_client     = @@character_set_client */;
/*!40101 SET character_set_client = utf8mb4 */;
CREATE TABLE `fixture_events` (
  `global_position` bigint(20) NOT NULL AUTO_INCREMENT,
  `stream_id` bigint(20) NOT NULL,
  `position` bigint(20) NOT NULL,
  `uuid` char(36) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  `message_name` varbinary(255) NOT NULL,
  `payload` longtext NOT NULL CHECK (json_valid(`payload`)),
  `metadata` longtext NOT NULL CHECK (json_valid(`metadata`)),
  `created_at` datetime(6) NOT NULL,
  `aggregate_type` blob DEFAULT NULL,
  `aggregate_id` blob DEFAULT NULL,
  `aggregate_version` blob DEFAULT NULL,
  `aggregate_hash` binary(32) GENERATED ALWAYS AS (if(`aggregate_type` is null,NULL,unhex(sha2(concat(octet_length(`aggregate_type`),':',`aggregate_type`,octet_length(`aggregate_id`),':',`aggregate_id`,octet_length(`aggregate_version`),':',`aggregate_version`),256)))) STORED,
  PRIMARY KEY (`global_position`),
  UNIQUE KEY `fixture_events_stream_position` (`stream_id`,`position`),
  UNIQUE KEY `fixture_events_stream_uuid` (`stream_id`,`uuid`),
  UNIQUE KEY `fixture_events_aggregate` (`stream_id`,`aggregate_hash`)
) ENGINE=InnoDB AUTO_INCREMENT=5 DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
/*!40101 SET character_set_client = @saved_cs_client */;

LOCK TABLES `fixture_events` WRITE;
/*!40000 ALTER TABLE `fixture_events` DISABLE KEYS */;
INSERT INTO `fixture_events` VALUES
(1,1,1,'0b4f7c1e-2d3a-4e5f-8a9b-1c2d3e4f5a6b','AccountOpened','{\"owner\":\"ZoÃ«\",\"limits\":[1,2.5,\"three\",null,true]}','{\"_aggregate_id\":\"1\",\"_aggregate_type\":\"account\",\"_aggregate_version\":1,\"tenant\":\"t-1\"}','2026-11-30 12:34:56.123456','account','1','1','¯žd˜K:VÛ3U!«áÃº÷ð4fÊ™ï$Œ\\úÍÌ'),
(2,1,2,'1c5a8d2f-3e4b-4f60-9bac-2d3e4f5a6b7c','MoneyDeposited','{\"amount\":125.75,\"note\":\"\\u00e9t\\u00e9 \\ud83d\\ude00\"}','{\"_aggregate_id\":\"1\",\"_aggregate_type\":\"account\",\"_aggregate_version\":2}','2026-11-30 12:35:00.000001','account','1','2','Ã­á¤3y—Šwi.z¡”.Ÿç\"ÚãŸÀ¯¾0ok'),
(3,1,3,'2d6b9e3a-4f5c-4a71-8cbd-3e4f5a6b7c8d','MoneyWithdrawn','{\"amount\":25}','{\"_aggregate_id\":\"1\",\"_aggregate_type\":\"account\",\"_aggregate_version\":3,\"big\":9007199254740993}','2026-11-30 12:36:00.500000','account','1','3',';I·ÀÆ\\¶œ>Ñ^×è†‹çHÉC\Zô?ý@Óãâ×;'),
(4,2,1,'3e7cae4b-5a6d-4b82-9dce-4f5a6b7c8d9e','AccountOpened','{\"owner\":\"Ada\"}','{}','2026-11-30 13:00:00.000000',NULL,NULL,NULL,NULL);
/*!40000 ALTER TABLE `fixture_events` ENABLE KEYS */;
UNLOCK TABLES;
DROP TABLE IF EXISTS `fixture_projections`;
/*!40101 SET @saved_cs_client     = @@character_set_client */;
/*!40101 SET character_set_client = utf8mb4 */;
CREATE TABLE `fixture_projections` (
  `name` varbinary(150) NOT NULL,
  `kind` varchar(20) NOT NULL,
  `status` varchar(40) NOT NULL,
  `state` longtext DEFAULT NULL,
  `positions` longtext NOT NULL,
  `checkpoint` varchar(64) DEFAULT NULL,
  `locked_until` bigint(20) DEFAULT NULL,
  `lease_owner` varchar(64) DEFAULT NULL,
  `read_model_action` varchar(20) DEFAULT NULL,
  PRIMARY KEY (`name`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
/*!40101 SET character_set_client = @saved_cs_client */;

LOCK TABLES `fixture_projections` WRITE;
/*!40000 ALTER TABLE `fixture_projections` DISABLE KEYS */;
/*!40000 ALTER TABLE `fixture_projections` ENABLE KEYS */;
UNLOCK TABLES;
DROP TABLE IF EXISTS `fixture_snapshots`;
/*!40101 SET @saved_cs_client     = @@character_set_client */;
/*!40101 SET character_set_client = utf8mb4 */;
CREATE TABLE `fixture_snapshots` (
  `aggregate_type` varbinary(150) NOT NULL,
  `aggregate_id` varbinary(150) NOT NULL,
  `last_version` bigint(20) NOT NULL,
  `state` longtext NOT NULL CHECK (json_valid(`state`)),
  `created_at` datetime(6) NOT NULL,
  PRIMARY KEY (`aggregate_type`,`aggregate_id`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
/*!40101 SET character_set_client = @saved_cs_client */;

LOCK TABLES `fixture_snapshots` WRITE;
/*!40000 ALTER TABLE `fixture_snapshots` DISABLE KEYS */;
/*!40000 ALTER TABLE `fixture_snapshots` ENABLE KEYS */;
UNLOCK TABLES;
DROP TABLE IF EXISTS `fixture_subscription_checkpoints`;
/*!40101 SET @saved_cs_client     = @@character_set_client */;
/*!40101 SET character_set_client = utf8mb4 */;
CREATE TABLE `fixture_subscription_checkpoints` (
  `name` varbinary(190) NOT NULL,
  `position` varchar(64) NOT NULL,
  `updated_at` datetime(6) NOT NULL,
  PRIMARY KEY (`name`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
/*!40101 SET character_set_client = @saved_cs_client */;

LOCK TABLES `fixture_subscription_checkpoints` WRITE;
/*!40000 ALTER TABLE `fixture_subscription_checkpoints` DISABLE KEYS */;
/*!40000 ALTER TABLE `fixture_subscription_checkpoints` ENABLE KEYS */;
UNLOCK TABLES;
/*!40103 SET TIME_ZONE=@OLD_TIME_ZONE */;

/*!40101 SET SQL_MODE=@OLD_SQL_MODE */;
/*!40014 SET FOREIGN_KEY_CHECKS=@OLD_FOREIGN_KEY_CHECKS */;
/*!40014 SET UNIQUE_CHECKS=@OLD_UNIQUE_CHECKS */;
/*!40101 SET CHARACTER_SET_CLIENT=@OLD_CHARACTER_SET_CLIENT */;
/*!40101 SET CHARACTER_SET_RESULTS=@OLD_CHARACTER_SET_RESULTS */;
/*!40101 SET COLLATION_CONNECTION=@OLD_COLLATION_CONNECTION */;
/*!40111 SET SQL_NOTES=@OLD_SQL_NOTES */;

