SET NAMES utf8mb4;
SET @password = 'testVarPwd';   -- plays the role of config.yml sqlVarPassword

CREATE TABLE `people` (
  `id` INT(10) UNSIGNED NOT NULL AUTO_INCREMENT,
  `name` VARCHAR(30) NULL DEFAULT NULL,
  `type` ENUM('patient','pro','externe','service','deleted','groupe','destroyed','registre') NOT NULL DEFAULT 'patient',
  `rank` ENUM('','admin') NULL DEFAULT NULL,
  `module` VARCHAR(20) NULL DEFAULT 'base',
  `pass` VARBINARY(1000) NULL DEFAULT NULL,
  `secret2fa` VARBINARY(1000) NULL DEFAULT NULL,
  `registerDate` DATETIME NULL DEFAULT NULL,
  `fromID` SMALLINT(6) NULL DEFAULT NULL,
  `lastLogIP` VARCHAR(50) NULL DEFAULT NULL,
  `lastLogDate` DATETIME NULL DEFAULT NULL,
  `lastLogFingerprint` VARCHAR(50) NULL DEFAULT NULL,
  `lastLostPassDate` DATETIME NULL DEFAULT NULL,
  `lastLostPassRandStr` VARCHAR(25) NULL DEFAULT NULL,
  PRIMARY KEY (`id`), UNIQUE KEY `name` (`name`), KEY `type` (`type`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_general_ci;

CREATE TABLE `data_cat` (
  `id` SMALLINT(6) NOT NULL AUTO_INCREMENT,
  `groupe` ENUM('admin','medical','typecs','mail','doc','courrier','ordo','reglement','dicom','user','relation','system') NOT NULL DEFAULT 'admin',
  `name` VARCHAR(60) NOT NULL,
  `label` VARCHAR(60) NOT NULL,
  `description` VARCHAR(255) NOT NULL,
  `type` ENUM('base','module','user') NOT NULL DEFAULT 'base',
  `fromID` SMALLINT(5) UNSIGNED NOT NULL,
  `creationDate` DATETIME NOT NULL,
  PRIMARY KEY (`id`), UNIQUE KEY `name` (`name`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_general_ci;

CREATE TABLE `data_types` (
  `id` INT(10) UNSIGNED NOT NULL AUTO_INCREMENT,
  `groupe` ENUM('admin','medical','typecs','mail','doc','courrier','ordo','reglement','dicom','user','relation','system') NOT NULL DEFAULT 'admin',
  `name` VARCHAR(60) NULL DEFAULT NULL,
  `placeholder` VARCHAR(255) NULL DEFAULT NULL,
  `label` MEDIUMTEXT NULL DEFAULT NULL,
  `description` VARCHAR(255) NULL DEFAULT NULL,
  `validationRules` VARCHAR(255) NULL DEFAULT NULL,
  `validationErrorMsg` VARCHAR(255) NULL DEFAULT NULL,
  `formType` ENUM('','date','email','number','select','submit','tel','text','textarea','password','checkbox','hidden','range','radio','reset','switch') NOT NULL DEFAULT '',
  `formValues` MEDIUMTEXT NULL DEFAULT NULL,
  `module` VARCHAR(20) NOT NULL DEFAULT 'base',
  `cat` SMALLINT(5) UNSIGNED NULL DEFAULT NULL,
  `fromID` SMALLINT(5) UNSIGNED NULL DEFAULT NULL,
  `creationDate` DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
  `durationLife` INT(10) UNSIGNED NOT NULL DEFAULT 86400,
  `displayOrder` SMALLINT(6) NOT NULL DEFAULT 1,
  PRIMARY KEY (`id`), UNIQUE KEY `name` (`name`), KEY `groupe` (`groupe`), KEY `cat` (`cat`), KEY `groupe_2` (`groupe`,`id`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_general_ci;

CREATE TABLE `objets_data` (
  `id` INT(10) UNSIGNED NOT NULL AUTO_INCREMENT,
  `fromID` INT(10) UNSIGNED NOT NULL DEFAULT 0,
  `byID` INT(10) UNSIGNED NULL DEFAULT NULL,
  `toID` INT(10) UNSIGNED NOT NULL DEFAULT 0,
  `typeID` INT(10) UNSIGNED NOT NULL DEFAULT 0,
  `parentTypeID` INT(10) UNSIGNED NULL DEFAULT 0,
  `instance` INT(10) UNSIGNED NOT NULL DEFAULT 0,
  `registerDate` DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
  `creationDate` DATETIME NULL DEFAULT CURRENT_TIMESTAMP,
  `updateDate` DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
  `value` MEDIUMTEXT NULL DEFAULT NULL,
  `outdated` ENUM('','y') NOT NULL DEFAULT '',
  `important` ENUM('n','y') NULL DEFAULT 'n',
  `titre` VARCHAR(255) NOT NULL DEFAULT '',
  `deleted` ENUM('','y') NOT NULL DEFAULT '',
  `deletedByID` INT(11) NULL DEFAULT NULL,
  PRIMARY KEY (`id`),
  KEY `toID_typeID` (`toID`,`typeID`), KEY `typeID` (`typeID`), KEY `instance` (`instance`),
  KEY `parentTypeID` (`parentTypeID`), KEY `toID` (`toID`), KEY `toID_2` (`toID`,`outdated`,`deleted`),
  KEY `typeIDetValue` (`typeID`,`value`(15))
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_general_ci;

CREATE TABLE `configuration` (
  `id` SMALLINT(5) UNSIGNED NOT NULL AUTO_INCREMENT,
  `name` VARCHAR(60) NULL DEFAULT NULL,
  `level` ENUM('default','module','user') NULL DEFAULT 'default',
  `toID` INT(10) UNSIGNED NOT NULL DEFAULT 0,
  `module` VARCHAR(20) NOT NULL DEFAULT '',
  `cat` VARCHAR(30) NULL DEFAULT NULL,
  `type` VARCHAR(30) NULL DEFAULT NULL,
  `description` MEDIUMTEXT NULL DEFAULT NULL,
  `value` MEDIUMTEXT NULL DEFAULT NULL,
  PRIMARY KEY (`id`), UNIQUE KEY `nameLevel` (`name`,`level`,`module`,`toID`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_general_ci;

CREATE TABLE `inbox` (
  `id` INT(10) UNSIGNED NOT NULL AUTO_INCREMENT,
  `mailForUserID` SMALLINT(5) UNSIGNED NOT NULL DEFAULT 0,
  `txtFileName` VARCHAR(30) NOT NULL,
  `mailHeaderInfos` BLOB NULL DEFAULT NULL,
  `txtDatetime` DATETIME NOT NULL,
  `txtNumOrdre` INT(10) UNSIGNED NOT NULL,
  `hprimIdentite` VARCHAR(250) NOT NULL,
  `hprimExpediteur` VARCHAR(250) NOT NULL,
  `hprimCodePatient` VARCHAR(250) NOT NULL,
  `hprimDateDossier` VARCHAR(30) NOT NULL,
  `hprimAllSerialize` BLOB NOT NULL,
  `pjNombre` TINYINT(3) UNSIGNED NOT NULL DEFAULT 0,
  `pjSerializeName` BLOB NOT NULL,
  `archived` ENUM('y','c','n') NOT NULL DEFAULT 'n',
  `assoToID` MEDIUMINT(8) UNSIGNED NULL DEFAULT NULL,
  PRIMARY KEY (`txtFileName`,`mailForUserID`) USING BTREE, UNIQUE KEY `id` (`id`), KEY `archived` (`archived`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_general_ci;

CREATE TABLE `hprim` (
  `id` INT(11) NOT NULL AUTO_INCREMENT,
  `fromID` SMALLINT(5) UNSIGNED NOT NULL,
  `toID` SMALLINT(5) UNSIGNED NOT NULL,
  `date` DATE NULL DEFAULT '1000-01-01',
  `objetID` INT(11) NOT NULL,
  `label` VARCHAR(255) NOT NULL,
  `labelStandard` VARCHAR(255) NOT NULL,
  `typeResultat` VARCHAR(2) NOT NULL,
  `resultat` VARCHAR(255) NOT NULL,
  `unite` VARCHAR(20) NOT NULL,
  `normaleInf` VARCHAR(20) NOT NULL,
  `normaleSup` VARCHAR(20) NOT NULL,
  `indicateurAnormal` VARCHAR(5) NOT NULL,
  `statutRes` VARCHAR(1) NOT NULL,
  `resAutreU` VARCHAR(50) NOT NULL,
  `normaleInfAutreU` VARCHAR(20) NOT NULL,
  `normalSupAutreU` VARCHAR(20) NOT NULL,
  UNIQUE KEY `id` (`id`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_general_ci;

CREATE TABLE `system` (
  `id` SMALLINT(5) UNSIGNED NOT NULL AUTO_INCREMENT,
  `name` VARCHAR(30) NULL DEFAULT NULL,
  `groupe` ENUM('system','module','cron','lock','plugin') NULL DEFAULT 'system',
  `value` MEDIUMTEXT NULL DEFAULT NULL,
  PRIMARY KEY (`id`), UNIQUE KEY `nameGroupe` (`name`,`groupe`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_general_ci;

INSERT INTO `system` (`name`,`groupe`,`value`) VALUES ('base','module','v8.4.2'), ('state','system','normal');

-- data_cat (ids = fresh v8.4.2 install)
INSERT INTO `data_cat` (`id`,`groupe`,`name`,`label`,`description`,`type`,`fromID`,`creationDate`) VALUES
 (2, 'admin','addressPerso','Adresse personnelle','datas de l''adresse personnelle','base',1,'2019-01-01 00:00:00'),
 (6, 'admin','catMarqueursAdminDossiers','Marqueurs','marqueurs dossiers','base',1,'2019-01-01 00:00:00'),
 (10,'admin','identity','Etat civil','Datas relatives à l''identité d''une personne','base',1,'2019-01-01 00:00:00'),
 (12,'admin','numAdmin','Numéros administratifs','RPPS et compagnie','base',1,'2019-01-01 00:00:00'),
 (19,'doc','docForm','Data documents importés / créés','données pour le formulaire documents importés ou créés','base',1,'2019-01-01 00:00:00'),
 (20,'doc','docPorteur','Porteur','porteur pour doc importés','base',1,'2019-01-01 00:00:00');

-- data_types (ids = fresh v8.4.2 install; legacy installs differ, resolve by name)
INSERT INTO `data_types` (`id`,`groupe`,`name`,`placeholder`,`label`,`description`,`validationRules`,`validationErrorMsg`,`formType`,`formValues`,`module`,`cat`,`fromID`,`creationDate`,`durationLife`,`displayOrder`) VALUES
 (3,  'admin','city','ville','Ville','Adresse perso : ville','','','text','','base',2,1,'2019-01-01 00:00:00',3600,1),
 (5,  'admin','postalCodePerso','code postal','Code postal','Adresse perso : code postal','','Le code postal n''est pas correct','text','','base',2,1,'2019-01-01 00:00:00',3600,1),
 (6,  'admin','street','type et nom de la voie','Voie','Adresse perso : voie','','','text','','base',2,1,'2019-01-01 00:00:00',3600,1),
 (7,  'admin','streetNumber','n° dans la voie','n°','Adresse perso : n° dans la voie','','Le numéro de voie est incorrect','text','','base',2,1,'2019-01-01 00:00:00',3600,1),
 (50, 'admin','administratifMarqueurSuppression','','Dossier supprimé','marqueur pour la suppression d''un dossier','','','text','','base',6,1,'2019-01-01 00:00:00',3600,1),
 (51, 'admin','peopleExportID','','Id aléatoire export','id aléatoire export','','','text','','base',6,1,'2019-01-01 00:00:00',3600,1),
 (103,'doc','docOriginalName','','Nom original','nom original du document','','','','','base',19,1,'2019-01-01 00:00:00',3600,1),
 (104,'doc','docOrigine','','Origine du document','origine du document : interne ou externe(null)','','','text','','base',19,1,'2019-01-01 00:00:00',3600,1),
 (106,'doc','docTitle','','Titre','titre du document','','','','','base',19,1,'2019-01-01 00:00:00',3600,1),
 (107,'doc','docType','','Type du document','type du document importé','','','text','','base',19,1,'2019-01-01 00:00:00',3600,1),
 (108,'doc','docPorteur','','Document','porteur pour nouveau document importé','','','','','base',20,1,'2019-01-01 00:00:00',1576800000,1),
 (118,'admin','administrativeGenderCode','','Sexe','Sexe','','','select','---\nF: Femme\nM: Homme\nU: Inconnu\n...\n','base',10,1,'2019-01-01 00:00:00',3600,1),
 (119,'admin','birthdate','naissance: dd/mm/YYYY','Date de naissance','Date de naissance au format dd/mm/YYYY','validedate,''d/m/Y''','La date de naissance indiquée n''est pas valide','date','','base',10,1,'2019-01-01 00:00:00',3600,1),
 (120,'admin','birthname','nom','Nom de naissance','Nom reçu à la naissance','identite','Le nom de naissance est indispensable et ne doit pas contenir de caractères interdits','text','','base',10,1,'2019-01-01 00:00:00',3600,1),
 (121,'admin','deathdate','décès: dd/mm/YYYY','Date de décès','Date de décès au format dd/mm/YYYY','validedate,''d/m/Y''','La date de décès indiquée n''est pas valide','date','','base',10,1,'2019-01-01 00:00:00',3600,1),
 (122,'admin','firstname','prénom','Prénom','Prénom figurant sur la pièce d''identité','identite','Le prénom est indispensable et ne doit pas contenir de caractères interdits','text','','base',10,1,'2019-01-01 00:00:00',3600,1),
 (123,'admin','lastname','nom marital ou d''usage','Nom d''usage','Nom utilisé au quotidien','identite','Le nom d''usage ne doit pas contenir de caractères interdits','text','','base',10,1,'2019-01-01 00:00:00',3600,1),
 (124,'admin','othersfirstname','liste des prénoms secondaires','Autres prénoms','Les autres prénoms d''une personne','','','text','','base',10,1,'2019-01-01 00:00:00',3600,1),
 (165,'admin','nss','','Numéro de sécu','numéro de sécurité sociale','','','text','','base',12,1,'2019-01-01 00:00:00',3600,1);
ALTER TABLE `data_types` AUTO_INCREMENT = 205;

-- people: 1-2 = install-script service rows; 3 = first admin; 4 = a patient
INSERT INTO `people` (`id`,`name`,`type`,`rank`,`module`,`pass`,`secret2fa`,`registerDate`,`fromID`,`lastLogIP`,`lastLogDate`,`lastLogFingerprint`) VALUES
 (1,'clicRDV','service','','base','',NULL,'2019-01-01 00:00:00',1,'','2019-01-01 00:00:00',''),
 (2,'medshake','service','','base','',NULL,'2019-01-01 00:00:00',1,'','2019-01-01 00:00:00','');
INSERT INTO `people` (`id`,`name`,`type`,`rank`,`module`,`pass`,`registerDate`,`fromID`,`lastLogIP`,`lastLogDate`,`lastLogFingerprint`) VALUES
 (3,'admin','pro','admin','base',
  AES_ENCRYPT('$2y$10$.vGA1O9wmRjrwAVXD98HNOgsNpDczlqm3Jq7KnEd1rVAGv3Fykk1a', @password),
  '2024-01-01 10:00:00',1,'127.0.0.1','2024-01-02 03:04:05',
  SHA1(CONCAT('fr-FR','testfp01','pytest-agent','2024-01-02 03:04:05')));
INSERT INTO `people` (`id`,`name`,`type`,`rank`,`module`,`pass`,`registerDate`,`fromID`) VALUES
 (4,NULL,'patient',NULL,'base','','2024-01-01 11:00:00',3);

-- identity (one current row per toID+typeID, instance 0) + one outdated older value
INSERT INTO `objets_data` (`id`,`fromID`,`toID`,`typeID`,`parentTypeID`,`instance`,`registerDate`,`creationDate`,`updateDate`,`value`) VALUES
 (1, 1,3,122,0,0,'2024-01-01 10:00:00','2024-01-01 10:00:00','2024-01-01 10:00:00','admin'),
 (2, 1,3,120,0,0,'2024-01-01 10:00:00','2024-01-01 10:00:00','2024-01-01 10:00:00','ADMIN'),
 (3, 3,4,51, 0,0,'2024-01-01 11:00:00','2024-01-01 11:00:00','2024-01-01 11:00:00','K7Q2ZP0A'),
 (4, 3,4,120,0,0,'2024-01-01 11:00:00','2024-01-01 11:00:00','2024-01-01 11:00:00','DUPONT'),
 (5, 3,4,123,0,0,'2024-01-01 11:00:00','2024-01-01 11:00:00','2024-01-01 11:00:00','MARTIN'),
 (6, 3,4,122,0,0,'2024-01-01 11:00:00','2024-01-01 11:00:00','2024-01-01 11:00:00','Jeanne'),
 (7, 3,4,119,0,0,'2024-01-01 11:00:00','2024-01-01 11:00:00','2024-01-01 11:00:00','01/02/1980'),
 (8, 3,4,118,0,0,'2024-01-01 11:00:00','2024-01-01 11:00:00','2024-01-01 11:00:00','F'),
 (9, 3,4,165,0,0,'2024-01-01 11:00:00','2024-01-01 11:00:00','2024-01-01 11:00:00','280027512345678'),
 (10,3,4,5,  0,0,'2024-01-01 11:00:00','2024-01-01 11:00:00','2024-01-01 11:00:00','75012'),
 (11,3,4,3,  0,0,'2024-01-01 11:00:00','2024-01-01 11:00:00','2024-01-01 11:00:00','PARIS'),
 (12,3,4,7,  0,0,'2024-01-01 11:00:00','2024-01-01 11:00:00','2024-01-01 11:00:00','12'),
 (13,3,4,6,  0,0,'2024-01-01 11:00:00','2024-01-01 11:00:00','2024-01-01 11:00:00','rue de la Paix');
INSERT INTO `objets_data` (`id`,`fromID`,`toID`,`typeID`,`parentTypeID`,`instance`,`registerDate`,`creationDate`,`updateDate`,`value`,`outdated`) VALUES
 (14,3,4,3,0,0,'2023-06-01 09:00:00','2023-06-01 09:00:00','2023-06-01 09:00:00','LYON','y');

-- a filed message: docPorteur (value = message text, titre) + children; file = <stockageLocation>15/0/15.pdf
INSERT INTO `objets_data` (`id`,`fromID`,`toID`,`typeID`,`parentTypeID`,`instance`,`registerDate`,`creationDate`,`updateDate`,`value`,`titre`) VALUES
 (15,3,4,108,0,0, '2024-01-02 09:00:00','2024-01-02 09:00:00','2024-01-02 09:00:00','DUPONT Jeanne\nrésultats ...','Laboratoire Test'),
 (16,3,4,103,0,15,'2024-01-02 09:00:00','2024-01-02 09:00:00','2024-01-02 09:00:00','CR_bio.pdf',''),
 (17,3,4,107,0,15,'2024-01-02 09:00:00','2024-01-02 09:00:00','2024-01-02 09:00:00','pdf','');

INSERT INTO `hprim` (`fromID`,`toID`,`date`,`objetID`,`label`,`labelStandard`,`typeResultat`,`resultat`,`unite`,`normaleInf`,`normaleSup`,`indicateurAnormal`,`statutRes`,`resAutreU`,`normaleInfAutreU`,`normalSupAutreU`) VALUES
 (3,4,'2024-01-02',15,'Glycémie','GLY','N','0.95','g/l','0.70','1.10','','F','5.27','3.89','6.11');

-- inbox: one filed ('c', as pre-v8 code would leave it) and one pending ('n')
INSERT INTO `inbox` (`mailForUserID`,`txtFileName`,`mailHeaderInfos`,`txtDatetime`,`txtNumOrdre`,`hprimIdentite`,`hprimExpediteur`,`hprimCodePatient`,`hprimDateDossier`,`hprimAllSerialize`,`pjNombre`,`pjSerializeName`,`archived`,`assoToID`) VALUES
 (3,'20240102-030405-17.txt','a:0:{}','2024-01-02 03:04:05',17,'Jeanne DUPONT','Laboratoire Test','A123','02/01/2024',
  'a:18:{s:11:"codePatient";s:4:"A123";s:3:"nom";s:6:"DUPONT";s:6:"prenom";s:6:"Jeanne";s:8:"adresse1";s:17:"12 rue de la Paix";s:12:"streetNumber";s:2:"12";s:6:"street";s:14:"rue de la Paix";s:8:"adresse2";s:0:"";s:2:"cp";s:5:"75012";s:5:"ville";s:5:"PARIS";s:3:"ddn";s:10:"01/02/1980";s:3:"nss";s:15:"280027512345678";s:24:"administrativeGenderCode";s:1:"F";s:10:"numDossier";s:0:"";s:11:"dateDossier";s:10:"02/01/2024";s:7:"codeExp";s:6:"LABO01";s:10:"expediteur";s:16:"Laboratoire Test";s:8:"codeDest";s:3:"DRX";s:12:"destinataire";s:4:"Dr X";}',
  1,'a:1:{i:2;s:10:"CR_bio.pdf";}','c',4),
 (3,'20240103-080000-18.txt','a:0:{}','2024-01-03 08:00:00',18,'Jeanne DUPONT','Laboratoire Test','A124','03/01/2024',
  'a:18:{s:11:"codePatient";s:4:"A124";s:3:"nom";s:6:"DUPONT";s:6:"prenom";s:6:"Jeanne";s:8:"adresse1";s:17:"12 rue de la Paix";s:12:"streetNumber";s:2:"12";s:6:"street";s:14:"rue de la Paix";s:8:"adresse2";s:0:"";s:2:"cp";s:5:"75012";s:5:"ville";s:5:"PARIS";s:3:"ddn";s:10:"01/02/1980";s:3:"nss";s:15:"280027512345678";s:24:"administrativeGenderCode";s:1:"F";s:10:"numDossier";s:0:"";s:11:"dateDossier";s:10:"03/01/2024";s:7:"codeExp";s:6:"LABO01";s:10:"expediteur";s:16:"Laboratoire Test";s:8:"codeDest";s:3:"DRX";s:12:"destinataire";s:4:"Dr X";}',
  0,'a:0:{}','n',NULL);

-- configuration: install-script Apicrypt rows (descriptions shortened) + user-level rows for user 3
INSERT INTO `configuration` (`name`,`level`,`toID`,`module`,`cat`,`type`,`description`,`value`) VALUES
 ('apicrypt2CertName','default',0,'','Apicrypt','texte','nom du certificat à utiliser',''),
 ('apicrypt2CertPassword','default',0,'','Apicrypt','texte','mot de passe du certificat',''),
 ('apicryptAdresse','default',0,'','Apicrypt','texte','adresse complète apicrypt',''),
 ('apicryptCheminArchivesInbox','default',0,'','Apicrypt','dossier','archives des messages reçus',''),
 ('apicryptCheminFichierC','default',0,'','Apicrypt','dossier','répertoire de travail, fichiers chiffrés',''),
 ('apicryptCheminFichierNC','default',0,'','Apicrypt','dossier','répertoire de travail, fichiers non chiffrés',''),
 ('apicryptCheminInbox','default',0,'','Apicrypt','dossier','boite de réception',''),
 ('apicryptCheminVersBinaires','default',0,'','Apicrypt','dossier','programmes Apicrypt',''),
 ('apicryptCheminVersClefs','default',0,'','Apicrypt','dossier','clefs Apicrypt',''),
 ('apicryptDefautSujet','default',0,'','Apicrypt','texte','sujet par défaut','Document concernant votre patient'),
 ('apicryptInboxMailForUserID','default',0,'','Apicrypt','nombre','IDs des comptes dont on voit les mails',''),
 ('apicryptPopHost','default',0,'','Apicrypt','url/ip','serveur pop','pop.intermedic.org'),
 ('apicryptPopPassword','default',0,'','Apicrypt','texte','mot de passe apicrypt',''),
 ('apicryptPopPort','default',0,'','Apicrypt','nombre','port du serveur pop','110'),
 ('apicryptPopUser','default',0,'','Apicrypt','texte','utilisateur pop',''),
 ('apicryptSmtpHost','default',0,'','Apicrypt','url/ip','serveur smtp','smtp.intermedic.org'),
 ('apicryptSmtpPort','default',0,'','Apicrypt','nombre','port smtp','587'),
 ('apicryptUtilisateur','default',0,'','Apicrypt','texte','utilisateur Apicrypt',''),
 ('apicryptVersion','default',0,'','Apicrypt','texte','version d''Apicrypt','1');
INSERT INTO `configuration` (`name`,`level`,`toID`,`value`) VALUES
 ('apicryptAdresse','user',3,'jeanne.DOC@medical99.apicrypt.org'),
 ('apicryptPopUser','user',3,'jeanne.DOC'),
 ('apicryptPopPassword','user',3,HEX(AES_ENCRYPT('popsecret', @password)));
