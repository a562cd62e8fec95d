-- Test people added to the fixture schema (schema.sql, ids of a fresh v8.4.2 install):
-- a second account (5), DUPONT Hélène (6), NGUYEN without a first name (7), a deleted DUPONT
-- Hélène (8), twins LEROY Camille with different birth dates (9, 10).
SET NAMES utf8mb4;
SET @password = 'testVarPwd';
INSERT INTO `people` (`id`,`name`,`type`,`rank`,`module`,`pass`,`registerDate`,`fromID`,`lastLogIP`,`lastLogDate`,`lastLogFingerprint`) VALUES
 (5,'drmartin','pro','','base',
  AES_ENCRYPT('$2y$10$.vGA1O9wmRjrwAVXD98HNOgsNpDczlqm3Jq7KnEd1rVAGv3Fykk1a', @password),
  '2024-01-01 10:00:00',3,'127.0.0.1','2024-02-01 08:00:00',
  SHA1(CONCAT('fr-FR','testfp01','other-agent','2024-02-01 08:00:00')));
INSERT INTO `people` (`id`,`name`,`type`,`rank`,`module`,`pass`,`registerDate`,`fromID`) VALUES
 (6,NULL,'patient',NULL,'base','','2024-01-01 11:00:00',3),
 (7,NULL,'patient',NULL,'base','','2024-01-01 11:00:00',3),
 (8,NULL,'deleted',NULL,'base','','2024-01-01 11:00:00',3),
 (9,NULL,'patient',NULL,'base','','2024-01-01 11:00:00',3),
 (10,NULL,'patient',NULL,'base','','2024-01-01 11:00:00',3);
INSERT INTO `objets_data` (`fromID`,`toID`,`typeID`,`parentTypeID`,`instance`,`value`) VALUES
 (3,5,122,0,0,'Paul'),(3,5,120,0,0,'MARTIN'),
 (3,6,120,0,0,'DUPONT'),(3,6,122,0,0,'Hélène'),(3,6,119,0,0,'15/03/1970'),(3,6,118,0,0,'F'),
 (3,6,165,0,0,'270037512300011'),(3,6,5,0,0,'75011'),
 (3,7,120,0,0,'NGUYEN'),(3,7,119,0,0,'01/01/1990'),
 (3,8,120,0,0,'DUPONT'),(3,8,122,0,0,'Hélène'),(3,8,119,0,0,'15/03/1970'),
 (3,9,120,0,0,'LEROY'),(3,9,122,0,0,'Camille'),(3,9,119,0,0,'05/05/2000'),
 (3,10,120,0,0,'LEROY'),(3,10,122,0,0,'Camille'),(3,10,119,0,0,'05/05/2001');
