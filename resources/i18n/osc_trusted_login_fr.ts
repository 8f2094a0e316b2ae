<?xml version="1.0" encoding="utf-8"?>
<!DOCTYPE TS>
<TS version="2.1" language="fr_FR">
<context>
    <name>AgentPanel</name>
    <message>
        <location filename="../../app/ui/agent_panel.py" line="33"/>
        <source>Your OUTSCALE tools (local API agent)</source>
        <translation>Vos outils OUTSCALE (agent d’API local)</translation>
    </message>
    <message>
        <location filename="../../app/ui/agent_panel.py" line="40"/>
        <source>Copy the environment lines</source>
        <translation>Copier les lignes d’environnement</translation>
    </message>
    <message>
        <location filename="../../app/ui/agent_panel.py" line="44"/>
        <source>For a shell: OSC_ENDPOINT_API, OSC_ACCESS_KEY, OSC_SECRET_KEY, OSC_REGION, OSC_CONFIG_FILE, OSC_PROFILE (`osc-trusted-login env`)</source>
        <translation>Pour un shell : OSC_ENDPOINT_API, OSC_ACCESS_KEY, OSC_SECRET_KEY, OSC_REGION, OSC_CONFIG_FILE, OSC_PROFILE (`osc-trusted-login env`)</translation>
    </message>
    <message>
        <location filename="../../app/ui/agent_panel.py" line="46"/>
        <source>Endpoint:</source>
        <translation>Point d’accès :</translation>
    </message>
    <message>
        <location filename="../../app/ui/agent_panel.py" line="47"/>
        <source>Access key:</source>
        <translation>Clé d’accès :</translation>
    </message>
    <message>
        <location filename="../../app/ui/agent_panel.py" line="48"/>
        <source>Calls forwarded:</source>
        <translation>Appels transmis :</translation>
    </message>
    <message>
        <location filename="../../app/ui/agent_panel.py" line="50"/>
        <source>Profile:</source>
        <translation>Profil :</translation>
    </message>
    <message>
        <location filename="../../app/ui/agent_panel.py" line="77"/>
        <source>(ended)</source>
        <translation>(terminée)</translation>
    </message>
</context>
<context>
    <name>CertificatePicker</name>
    <message>
        <location filename="../../app/ui/picker.py" line="81"/>
        <source>Choose a certificate</source>
        <translation>Choisir un certificat</translation>
    </message>
    <message>
        <location filename="../../app/ui/picker.py" line="102"/>
        <source>Certificates on your cards and in your files. Insert a card and it appears here. Greyed certificates cannot be used; the reason is shown.</source>
        <translation>Les certificats de vos cartes et de vos fichiers. Insérez une carte et elle apparaît ici. Les certificats grisés ne sont pas utilisables ; la raison est indiquée.</translation>
    </message>
    <message>
        <location filename="../../app/ui/picker.py" line="109"/>
        <source>Certificate</source>
        <translation>Certificat</translation>
    </message>
    <message>
        <location filename="../../app/ui/picker.py" line="109"/>
        <source>Issuer</source>
        <translation>Émetteur</translation>
    </message>
    <message>
        <location filename="../../app/ui/picker.py" line="109"/>
        <source>Expires</source>
        <translation>Expire le</translation>
    </message>
    <message>
        <location filename="../../app/ui/picker.py" line="109"/>
        <location filename="../../app/ui/picker.py" line="373"/>
        <source>Key</source>
        <translation>Clé</translation>
    </message>
    <message>
        <location filename="../../app/ui/picker.py" line="110"/>
        <source>Status</source>
        <translation>État</translation>
    </message>
    <message>
        <location filename="../../app/ui/picker.py" line="117"/>
        <source>No certificate found. Insert a card, or add a certificate file.</source>
        <translation>Aucun certificat trouvé. Insérez une carte ou ajoutez un fichier de certificat.</translation>
    </message>
    <message>
        <location filename="../../app/ui/picker.py" line="129"/>
        <source>Card software problems</source>
        <translation>Problèmes de logiciel de carte</translation>
    </message>
    <message>
        <location filename="../../app/ui/picker.py" line="130"/>
        <source>&amp;Settings...</source>
        <translation>&amp;Paramètres...</translation>
    </message>
    <message>
        <location filename="../../app/ui/picker.py" line="149"/>
        <source>&amp;Add file...</source>
        <translation>Ajouter un &amp;fichier...</translation>
    </message>
    <message>
        <location filename="../../app/ui/picker.py" line="152"/>
        <source>&amp;Refresh</source>
        <translation>Actualise&amp;r</translation>
    </message>
    <message>
        <location filename="../../app/ui/picker.py" line="155"/>
        <source>&amp;Use this certificate</source>
        <translation>&amp;Utiliser ce certificat</translation>
    </message>
    <message>
        <location filename="../../app/ui/picker.py" line="159"/>
        <source>&amp;Details...</source>
        <translation>&amp;Détails...</translation>
    </message>
    <message>
        <location filename="../../app/ui/picker.py" line="166"/>
        <source>&amp;Cancel</source>
        <translation>&amp;Annuler</translation>
    </message>
    <message>
        <location filename="../../app/ui/picker.py" line="141"/>
        <location filename="../../app/ui/picker.py" line="243"/>
        <source>Looking for certificates...</source>
        <translation>Recherche des certificats...</translation>
    </message>
    <message>
        <location filename="../../app/ui/picker.py" line="236"/>
        <source>%1 Check the card software in Settings.</source>
        <translation>%1 Vérifiez le logiciel de carte dans les paramètres.</translation>
    </message>
    <message>
        <location filename="../../app/ui/picker.py" line="259"/>
        <source>No certificate found: the card software could not be loaded (see below). Fix it in Settings, or add a certificate file.</source>
        <translation>Aucun certificat trouvé : le logiciel de carte n’a pas pu être chargé (voir ci-dessous). Corrigez-le dans les paramètres, ou ajoutez un fichier de certificat.</translation>
    </message>
    <message>
        <location filename="../../app/ui/picker.py" line="262"/>
        <source>No card reader found. Connect the reader, insert the card, or add a certificate file.</source>
        <translation>Aucun lecteur de carte trouvé. Branchez le lecteur, insérez la carte, ou ajoutez un fichier de certificat.</translation>
    </message>
    <message>
        <location filename="../../app/ui/picker.py" line="265"/>
        <source>No card found. Insert a card in its reader, or add a certificate file.</source>
        <translation>Aucune carte trouvée. Insérez une carte dans son lecteur, ou ajoutez un fichier de certificat.</translation>
    </message>
    <message>
        <location filename="../../app/ui/picker.py" line="314"/>
        <source>Card: %1</source>
        <translation>Carte : %1</translation>
    </message>
    <message>
        <location filename="../../app/ui/picker.py" line="314"/>
        <source>This computer: %1</source>
        <translation>Cet ordinateur : %1</translation>
    </message>
    <message>
        <location filename="../../app/ui/picker.py" line="315"/>
        <source>File: %1</source>
        <translation>Fichier : %1</translation>
    </message>
    <message>
        <location filename="../../app/ui/picker.py" line="328"/>
        <source>Matches this account</source>
        <translation>Correspond à ce compte</translation>
    </message>
    <message>
        <location filename="../../app/ui/picker.py" line="329"/>
        <source>Usable</source>
        <translation>Utilisable</translation>
    </message>
    <message>
        <location filename="../../app/ui/picker.py" line="331"/>
        <source>Not usable</source>
        <translation>Inutilisable</translation>
    </message>
    <message>
        <location filename="../../app/ui/picker.py" line="348"/>
        <source>%1, not usable: %2</source>
        <translation>%1, inutilisable : %2</translation>
    </message>
    <message>
        <location filename="../../app/ui/picker.py" line="372"/>
        <source>Issued to</source>
        <translation>Délivré à</translation>
    </message>
    <message>
        <location filename="../../app/ui/picker.py" line="372"/>
        <source>Issued by</source>
        <translation>Délivré par</translation>
    </message>
    <message>
        <location filename="../../app/ui/picker.py" line="373"/>
        <source>Valid until</source>
        <translation>Valide jusqu’au</translation>
    </message>
    <message>
        <location filename="../../app/ui/picker.py" line="374"/>
        <source>Stored in</source>
        <translation>Stocké dans</translation>
    </message>
    <message>
        <location filename="../../app/ui/picker.py" line="374"/>
        <source>SHA-256 fingerprint</source>
        <translation>Empreinte SHA-256</translation>
    </message>
    <message>
        <location filename="../../app/ui/picker.py" line="376"/>
        <source>Cannot be used</source>
        <translation>Inutilisable</translation>
    </message>
    <message>
        <location filename="../../app/ui/picker.py" line="378"/>
        <source>Certificate details</source>
        <translation>Détails du certificat</translation>
    </message>
    <message>
        <location filename="../../app/ui/picker.py" line="397"/>
        <source>Add a certificate file</source>
        <translation>Ajouter un fichier de certificat</translation>
    </message>
    <message>
        <location filename="../../app/ui/picker.py" line="399"/>
        <source>Certificates (*.p12 *.pfx *.pem *.crt *.key);;All files (*)</source>
        <translation>Certificats (*.p12 *.pfx *.pem *.crt *.key);;Tous les fichiers (*)</translation>
    </message>
    <message>
        <location filename="../../app/ui/picker.py" line="410"/>
        <source>Password of %1 (leave empty if it has none):</source>
        <translation>Mot de passe de %1 (laisser vide s’il n’en a pas) :</translation>
    </message>
    <message>
        <location filename="../../app/ui/picker.py" line="415"/>
        <source>File password</source>
        <translation>Mot de passe du fichier</translation>
    </message>
    <message>
        <location filename="../../app/ui/picker.py" line="427"/>
        <source>Reading %1...</source>
        <translation>Lecture de %1...</translation>
    </message>
</context>
<context>
    <name>KeyExpiry</name>
    <message>
        <location filename="../../app/ui/key_expiry.py" line="32"/>
        <source>expired</source>
        <translation>expirée</translation>
    </message>
    <message>
        <location filename="../../app/ui/key_expiry.py" line="35"/>
        <source>in less than a minute</source>
        <translation>dans moins d’une minute</translation>
    </message>
    <message>
        <location filename="../../app/ui/key_expiry.py" line="37"/>
        <source>in %1 min</source>
        <translation>dans %1 min</translation>
    </message>
    <message>
        <location filename="../../app/ui/key_expiry.py" line="39"/>
        <source>in %1 h %2 min</source>
        <translation>dans %1 h %2 min</translation>
    </message>
</context>
<context>
    <name>KeyExpiryNotice</name>
    <message>
        <location filename="../../app/ui/key_expiry.py" line="64"/>
        <source>Temporary key expiry</source>
        <translation>Expiration de la clé temporaire</translation>
    </message>
    <message>
        <location filename="../../app/ui/key_expiry.py" line="65"/>
        <source>Re&amp;new key</source>
        <translation>Re&amp;nouveler la clé</translation>
    </message>
    <message>
        <location filename="../../app/ui/key_expiry.py" line="68"/>
        <source>Log in a&amp;gain</source>
        <translation>Se re&amp;connecter</translation>
    </message>
    <message>
        <location filename="../../app/ui/key_expiry.py" line="84"/>
        <source>Renewing the temporary key...</source>
        <translation>Renouvellement de la clé temporaire...</translation>
    </message>
    <message>
        <location filename="../../app/ui/key_expiry.py" line="86"/>
        <source>The temporary key has expired: the session ends.</source>
        <translation>La clé temporaire a expiré : la session se termine.</translation>
    </message>
    <message>
        <location filename="../../app/ui/key_expiry.py" line="88"/>
        <source>The temporary key expires %1. Renew it now (the card signs a new one, the session goes on) or log in again.</source>
        <translation>La clé temporaire expire %1. Renouvelez-la maintenant (la carte en signe une nouvelle, la session continue) ou reconnectez-vous.</translation>
    </message>
</context>
<context>
    <name>LoginFlow</name>
    <message>
        <location filename="../../app/ui/flows/login.py" line="135"/>
        <source>Contacting %1...</source>
        <translation>Connexion à %1...</translation>
    </message>
    <message>
        <location filename="../../app/ui/flows/login.py" line="199"/>
        <source>Cancelling...</source>
        <translation>Annulation...</translation>
    </message>
    <message>
        <location filename="../../app/ui/flows/login.py" line="205"/>
        <source>Server verified. Waiting for the card&apos;s PIN...</source>
        <translation>Serveur vérifié. En attente du code PIN de la carte...</translation>
    </message>
    <message>
        <location filename="../../app/ui/flows/login.py" line="245"/>
        <source>Login cancelled</source>
        <translation>Connexion annulée</translation>
    </message>
    <message>
        <location filename="../../app/ui/flows/login.py" line="245"/>
        <source>Nothing was changed on the account.</source>
        <translation>Rien n’a été modifié sur le compte.</translation>
    </message>
    <message>
        <location filename="../../app/ui/flows/login.py" line="263"/>
        <source>The login and password were refused by %1. An account lives in one Region: check the Region, then the password; after four failures the account is locked for a minute.</source>
        <translation>L’identifiant et le mot de passe ont été refusés par %1. Un compte existe dans une seule Région : vérifiez la Région, puis le mot de passe ; après quatre échecs, le compte est bloqué une minute.</translation>
    </message>
    <message>
        <location filename="../../app/ui/flows/login.py" line="266"/>
        <source>The access key and secret key were refused by %1. An account lives in one Region: check the Region, then the keys.</source>
        <translation>La clé d’accès et la clé secrète ont été refusées par %1. Un compte existe dans une seule Région : vérifiez la Région, puis les clés.</translation>
    </message>
</context>
<context>
    <name>LoginWindow</name>
    <message>
        <location filename="../../app/ui/login.py" line="111"/>
        <source>Log in to OUTSCALE with your certificate</source>
        <translation>Connexion à OUTSCALE avec votre certificat</translation>
    </message>
    <message>
        <location filename="../../app/ui/login.py" line="135"/>
        <source>(none)</source>
        <translation>(aucun)</translation>
    </message>
    <message>
        <location filename="../../app/ui/login.py" line="138"/>
        <source>osc pro&amp;file:</source>
        <translation>Pro&amp;fil osc :</translation>
    </message>
    <message>
        <location filename="../../app/ui/login.py" line="150"/>
        <source>Login and pass&amp;word</source>
        <translation>Identifiant et mot &amp;de passe</translation>
    </message>
    <message>
        <location filename="../../app/ui/login.py" line="152"/>
        <source>Access &amp;key and secret key</source>
        <translation>Clé d’a&amp;ccès et clé secrète</translation>
    </message>
    <message>
        <location filename="../../app/ui/login.py" line="162"/>
        <source>Method:</source>
        <translation>Méthode :</translation>
    </message>
    <message>
        <location filename="../../app/ui/login.py" line="194"/>
        <source>Tokyo (ap-northeast-1)</source>
        <translation>Tokyo (ap-northeast-1)</translation>
    </message>
    <message>
        <location filename="../../app/ui/login.py" line="195"/>
        <source>France, SecNumCloud (cloudgouv-eu-west-1)</source>
        <translation>France, SecNumCloud (cloudgouv-eu-west-1)</translation>
    </message>
    <message>
        <location filename="../../app/ui/login.py" line="196"/>
        <source>France (eu-west-2)</source>
        <translation>France (eu-west-2)</translation>
    </message>
    <message>
        <location filename="../../app/ui/login.py" line="197"/>
        <source>United States East (us-east-2)</source>
        <translation>États-Unis Est (us-east-2)</translation>
    </message>
    <message>
        <location filename="../../app/ui/login.py" line="198"/>
        <source>United States West (us-west-1)</source>
        <translation>États-Unis Ouest (us-west-1)</translation>
    </message>
    <message>
        <location filename="../../app/ui/login.py" line="202"/>
        <source>Custom endpoint...</source>
        <translation>Point d’accès personnalisé...</translation>
    </message>
    <message>
        <location filename="../../app/ui/login.py" line="205"/>
        <source>&amp;Region:</source>
        <translation>&amp;Région :</translation>
    </message>
    <message>
        <location filename="../../app/ui/login.py" line="215"/>
        <source>Endpoin&amp;t:</source>
        <translation>Poin&amp;t d’accès :</translation>
    </message>
    <message>
        <location filename="../../app/ui/login.py" line="244"/>
        <location filename="../../app/ui/login.py" line="360"/>
        <source>Also remember the password (in the system ke&amp;yring)</source>
        <translation>Retenir aussi le mot de passe (dans le tro&amp;usseau du système)</translation>
    </message>
    <message>
        <location filename="../../app/ui/login.py" line="274"/>
        <location filename="../../app/ui/login.py" line="477"/>
        <source>Log i&amp;n</source>
        <translation>Se co&amp;nnecter</translation>
    </message>
    <message>
        <location filename="../../app/ui/login.py" line="367"/>
        <source>Also remember the secret key (in the system ke&amp;yring)</source>
        <translation>Retenir aussi la clé secrète (dans le tro&amp;usseau du système)</translation>
    </message>
    <message>
        <location filename="../../app/ui/login.py" line="505"/>
        <source>An access key is 20 capital letters and digits (e.g. 3FJ6KQ0TW2DN8XSP5R7B).</source>
        <translation>Une clé d’accès compte 20 lettres majuscules et chiffres (par ex. 3FJ6KQ0TW2DN8XSP5R7B).</translation>
    </message>
    <message>
        <location filename="../../app/ui/login.py" line="224"/>
        <location filename="../../app/ui/login.py" line="399"/>
        <source>No certificate chosen</source>
        <translation>Aucun certificat choisi</translation>
    </message>
    <message>
        <location filename="../../app/ui/login.py" line="79"/>
        <source>Log in</source>
        <translation>Connexion</translation>
    </message>
    <message>
        <location filename="../../app/ui/login.py" line="118"/>
        <source>Note</source>
        <translation>Note</translation>
    </message>
    <message>
        <location filename="../../app/ui/login.py" line="125"/>
        <source>Message</source>
        <translation>Message</translation>
    </message>
    <message>
        <location filename="../../app/ui/login.py" line="227"/>
        <source>C&amp;hoose...</source>
        <translation>C&amp;hoisir...</translation>
    </message>
    <message>
        <location filename="../../app/ui/login.py" line="233"/>
        <source>Certificate:</source>
        <translation>Certificat :</translation>
    </message>
    <message>
        <location filename="../../app/ui/login.py" line="242"/>
        <source>Re&amp;member my login on this computer</source>
        <translation>Se souvenir de &amp;mon identifiant sur cet ordinateur</translation>
    </message>
    <message>
        <location filename="../../app/ui/login.py" line="265"/>
        <source>&amp;Settings...</source>
        <translation>Paramètre&amp;s...</translation>
    </message>
    <message>
        <location filename="../../app/ui/login.py" line="269"/>
        <source>&amp;Cancel</source>
        <translation>&amp;Annuler</translation>
    </message>
    <message>
        <location filename="../../app/ui/login.py" line="279"/>
        <source>Set up certificate l&amp;ogin for this account...</source>
        <translation>C&amp;onfigurer la connexion par certificat...</translation>
    </message>
    <message>
        <location filename="../../app/ui/login.py" line="357"/>
        <source>&amp;Login:</source>
        <translation>&amp;Identifiant :</translation>
    </message>
    <message>
        <location filename="../../app/ui/login.py" line="358"/>
        <source>email, or AccountId/user for EIM users</source>
        <translation>e-mail, ou AccountId/utilisateur pour les utilisateurs EIM</translation>
    </message>
    <message>
        <location filename="../../app/ui/login.py" line="359"/>
        <source>&amp;Password:</source>
        <translation>Mot de &amp;passe :</translation>
    </message>
    <message>
        <location filename="../../app/ui/login.py" line="362"/>
        <source>&amp;Access key:</source>
        <translation>Clé d’&amp;accès :</translation>
    </message>
    <message>
        <location filename="../../app/ui/login.py" line="364"/>
        <source>S&amp;ecret key:</source>
        <translation>Clé s&amp;ecrète :</translation>
    </message>
    <message>
        <location filename="../../app/ui/login.py" line="477"/>
        <source>Logging in...</source>
        <translation>Connexion...</translation>
    </message>
    <message>
        <location filename="../../app/ui/login.py" line="498"/>
        <source>Type your login.</source>
        <translation>Saisissez votre identifiant.</translation>
    </message>
    <message>
        <location filename="../../app/ui/login.py" line="499"/>
        <source>Type your access key.</source>
        <translation>Saisissez votre clé d’accès.</translation>
    </message>
    <message>
        <location filename="../../app/ui/login.py" line="511"/>
        <source>Type your password.</source>
        <translation>Saisissez votre mot de passe.</translation>
    </message>
    <message>
        <location filename="../../app/ui/login.py" line="512"/>
        <source>Type your secret key.</source>
        <translation>Saisissez votre clé secrète.</translation>
    </message>
    <message>
        <location filename="../../app/ui/login.py" line="522"/>
        <source>Type an https:// address, e.g. https://api.example.com/api/v1.</source>
        <translation>Saisissez une adresse https://, par ex. https://api.example.com/api/v1.</translation>
    </message>
    <message>
        <location filename="../../app/ui/login.py" line="555"/>
        <source>Choose a certificate</source>
        <translation>Choisir un certificat</translation>
    </message>
    <message>
        <location filename="../../app/ui/login.py" line="556"/>
        <source>Choose the certificate (card or file) to set up login with first.</source>
        <translation>Choisissez d’abord le certificat (carte ou fichier) avec lequel configurer la connexion.</translation>
    </message>
</context>
<context>
    <name>MfaSetupDialog</name>
    <message>
        <location filename="../../app/ui/mfa_setup_dialog.py" line="58"/>
        <source>Set up certificate login</source>
        <translation>Configurer la connexion par certificat</translation>
    </message>
    <message>
        <location filename="../../app/ui/mfa_setup_dialog.py" line="77"/>
        <source>none chosen</source>
        <translation>aucun choisi</translation>
    </message>
    <message>
        <location filename="../../app/ui/mfa_setup_dialog.py" line="78"/>
        <source>Account: %1 at %2. Certificate: %3.</source>
        <translation>Compte : %1 sur %2. Certificat : %3.</translation>
    </message>
    <message>
        <location filename="../../app/ui/mfa_setup_dialog.py" line="88"/>
        <source>Password</source>
        <translation>Mot de passe</translation>
    </message>
    <message>
        <location filename="../../app/ui/mfa_setup_dialog.py" line="89"/>
        <source>Secret key</source>
        <translation>Clé secrète</translation>
    </message>
    <message>
        <location filename="../../app/ui/mfa_setup_dialog.py" line="94"/>
        <source>only if the card or file holds just your certificate</source>
        <translation>si la carte ou le fichier ne contient pas la CA</translation>
    </message>
    <message>
        <location filename="../../app/ui/mfa_setup_dialog.py" line="95"/>
        <source>&amp;Browse...</source>
        <translation>&amp;Parcourir...</translation>
    </message>
    <message>
        <location filename="../../app/ui/mfa_setup_dialog.py" line="99"/>
        <source>Issuer CA file</source>
        <translation>Fichier de la CA émettrice</translation>
    </message>
    <message>
        <location filename="../../app/ui/mfa_setup_dialog.py" line="101"/>
        <source>Allow only this certificate&apos;s name (CN), not every certificate of the CA</source>
        <translation>N’autoriser que le nom de ce certificat (CN), pas tous les certificats de la CA</translation>
    </message>
    <message>
        <location filename="../../app/ui/mfa_setup_dialog.py" line="104"/>
        <source>Keep the IP-only rules (the certificate is then not required)</source>
        <translation>Garder les règles par adresse IP seule (le certificat n’est alors pas obligatoire)</translation>
    </message>
    <message>
        <location filename="../../app/ui/mfa_setup_dialog.py" line="106"/>
        <source>Activate a trusted session; keys live at most</source>
        <translation>Activer une session de confiance ; durée maximale des clés :</translation>
    </message>
    <message>
        <location filename="../../app/ui/mfa_setup_dialog.py" line="110"/>
        <source> h</source>
        <translation> h</translation>
    </message>
    <message>
        <location filename="../../app/ui/mfa_setup_dialog.py" line="127"/>
        <source>&amp;Check the account</source>
        <translation>&amp;Vérifier le compte</translation>
    </message>
    <message>
        <location filename="../../app/ui/mfa_setup_dialog.py" line="128"/>
        <source>&amp;Apply</source>
        <translation>&amp;Appliquer</translation>
    </message>
    <message>
        <location filename="../../app/ui/mfa_setup_dialog.py" line="130"/>
        <source>&amp;Remove a previous set-up</source>
        <translation>&amp;Supprimer une configuration précédente</translation>
    </message>
    <message>
        <location filename="../../app/ui/mfa_setup_dialog.py" line="131"/>
        <source>Close</source>
        <translation>Fermer</translation>
    </message>
    <message>
        <location filename="../../app/ui/mfa_setup_dialog.py" line="143"/>
        <source>The CA that issued your certificate</source>
        <translation>La CA qui a délivré votre certificat</translation>
    </message>
    <message>
        <location filename="../../app/ui/mfa_setup_dialog.py" line="144"/>
        <source>Certificates (*.pem *.crt *.cer);;All files (*)</source>
        <translation>Certificats (*.pem *.crt *.cer);;Tous les fichiers (*)</translation>
    </message>
    <message>
        <location filename="../../app/ui/mfa_setup_dialog.py" line="195"/>
        <source>Reading the account...</source>
        <translation>Lecture du compte...</translation>
    </message>
    <message>
        <location filename="../../app/ui/mfa_setup_dialog.py" line="212"/>
        <source>The account now:</source>
        <translation>État actuel du compte :</translation>
    </message>
    <message>
        <location filename="../../app/ui/mfa_setup_dialog.py" line="213"/>
        <source>The plan:</source>
        <translation>Ce qui sera fait :</translation>
    </message>
    <message>
        <location filename="../../app/ui/mfa_setup_dialog.py" line="215"/>
        <source>What it means:</source>
        <translation>Ce que cela implique :</translation>
    </message>
    <message>
        <location filename="../../app/ui/mfa_setup_dialog.py" line="218"/>
        <source>Cannot be applied (nothing was changed):</source>
        <translation>Impossible à appliquer (rien n’a été modifié) :</translation>
    </message>
    <message>
        <location filename="../../app/ui/mfa_setup_dialog.py" line="221"/>
        <source>Everything is already in place.</source>
        <translation>Tout est déjà en place.</translation>
    </message>
    <message>
        <location filename="../../app/ui/mfa_setup_dialog.py" line="225"/>
        <location filename="../../app/ui/mfa_setup_dialog.py" line="260"/>
        <source>Nothing was changed. %1</source>
        <translation>Rien n’a été modifié. %1</translation>
    </message>
    <message>
        <location filename="../../app/ui/mfa_setup_dialog.py" line="235"/>
        <source>Applying: proving each step with your certificate...</source>
        <translation>Application : chaque étape est vérifiée avec votre certificat...</translation>
    </message>
    <message>
        <location filename="../../app/ui/mfa_setup_dialog.py" line="246"/>
        <source>Removing the previous set-up...</source>
        <translation>Suppression de la configuration précédente...</translation>
    </message>
    <message>
        <location filename="../../app/ui/mfa_setup_dialog.py" line="266"/>
        <source>Still working: wait for the end (the account is changing).</source>
        <translation>Opération en cours : attendez la fin (le compte est en cours de modification).</translation>
    </message>
</context>
<context>
    <name>PinDialog</name>
    <message>
        <location filename="../../app/ui/pin_dialog.py" line="86"/>
        <source>Type the PIN of the card &lt;b&gt;%1&lt;/b&gt; to log in.</source>
        <translation>Saisissez le code PIN de la carte &lt;b&gt;%1&lt;/b&gt; pour vous connecter.</translation>
    </message>
    <message>
        <location filename="../../app/ui/pin_dialog.py" line="87"/>
        <source>The card &lt;b&gt;%1&lt;/b&gt; asks for its PIN again to sign.</source>
        <translation>La carte &lt;b&gt;%1&lt;/b&gt; redemande son code PIN pour signer.</translation>
    </message>
    <message>
        <location filename="../../app/ui/pin_dialog.py" line="88"/>
        <source>The card &lt;b&gt;%1&lt;/b&gt; is back. Type its PIN to resume the session.</source>
        <translation>La carte &lt;b&gt;%1&lt;/b&gt; est de retour. Saisissez son code PIN pour reprendre la session.</translation>
    </message>
    <message>
        <location filename="../../app/ui/pin_dialog.py" line="139"/>
        <source>&lt;b&gt;Last try:&lt;/b&gt; one more wrong PIN locks the card. If you are not sure of the PIN, cancel and check it first.</source>
        <translation>&lt;b&gt;Dernier essai :&lt;/b&gt; un code PIN erroné de plus bloque la carte. Si vous n’êtes pas sûr du code, annulez et vérifiez-le d’abord.</translation>
    </message>
    <message>
        <location filename="../../app/ui/pin_dialog.py" line="140"/>
        <source>Tries left: %1</source>
        <translation>Essais restants : %1</translation>
    </message>
    <message>
        <location filename="../../app/ui/pin_dialog.py" line="143"/>
        <source>A wrong PIN was typed recently; the card may lock after a few more.</source>
        <translation>Un code PIN erroné a été saisi récemment ; la carte peut se bloquer après quelques autres.</translation>
    </message>
    <message>
        <location filename="../../app/ui/pin_dialog.py" line="90"/>
        <source>&amp;PIN:</source>
        <translation>Code &amp;PIN :</translation>
    </message>
    <message>
        <location filename="../../app/ui/pin_dialog.py" line="45"/>
        <source>PIN error</source>
        <translation>Erreur de code PIN</translation>
    </message>
    <message>
        <location filename="../../app/ui/pin_dialog.py" line="51"/>
        <source>PIN tries</source>
        <translation>Essais du code PIN</translation>
    </message>
    <message>
        <location filename="../../app/ui/pin_dialog.py" line="66"/>
        <source>Checking the PIN with the card...</source>
        <translation>Vérification du code PIN par la carte...</translation>
    </message>
    <message>
        <location filename="../../app/ui/pin_dialog.py" line="84"/>
        <source>Password</source>
        <translation>Mot de passe</translation>
    </message>
    <message>
        <location filename="../../app/ui/pin_dialog.py" line="84"/>
        <source>PIN</source>
        <translation>Code PIN</translation>
    </message>
    <message>
        <location filename="../../app/ui/pin_dialog.py" line="98"/>
        <source>Type the password of the certificate database &lt;b&gt;%1&lt;/b&gt;.</source>
        <translation>Saisissez le mot de passe de la base de certificats &lt;b&gt;%1&lt;/b&gt;.</translation>
    </message>
    <message>
        <location filename="../../app/ui/pin_dialog.py" line="98"/>
        <source>&amp;Password:</source>
        <translation>&amp;Mot de passe :</translation>
    </message>
    <message>
        <location filename="../../app/ui/pin_dialog.py" line="150"/>
        <source>&amp;Unlock</source>
        <translation>&amp;Déverrouiller</translation>
    </message>
    <message>
        <location filename="../../app/ui/pin_dialog.py" line="152"/>
        <source>&amp;Cancel</source>
        <translation>&amp;Annuler</translation>
    </message>
    <message>
        <location filename="../../app/ui/pin_dialog.py" line="94"/>
        <source>Enter the PIN of &lt;b&gt;%1&lt;/b&gt; on the card reader&apos;s keypad.</source>
        <translation>Saisissez le code PIN de &lt;b&gt;%1&lt;/b&gt; sur le clavier du lecteur de carte.</translation>
    </message>
</context>
<context>
    <name>SessionViewFlow</name>
    <message>
        <location filename="../../app/ui/flows/session_view.py" line="125"/>
        <source>The local API agent did not start: %1</source>
        <translation>L’agent d’API local n’a pas démarré : %1</translation>
    </message>
    <message>
        <location filename="../../app/ui/flows/session_view.py" line="105"/>
        <source>Reading the VMs...</source>
        <translation>Lecture des VM...</translation>
    </message>
    <message>
        <location filename="../../app/ui/flows/session_view.py" line="172"/>
        <source>Logging out: revoking the temporary key...</source>
        <translation>Déconnexion : révocation de la clé temporaire...</translation>
    </message>
    <message>
        <location filename="../../app/ui/flows/session_view.py" line="217"/>
        <source>The session goes on in the tray. Log out or quit from the tray icon&apos;s menu.</source>
        <translation>La session continue dans la zone de notification. Déconnectez-vous ou quittez depuis le menu de son icône.</translation>
    </message>
    <message>
        <location filename="../../app/ui/flows/session_view.py" line="217"/>
        <source>Still running</source>
        <translation>Toujours en cours</translation>
    </message>
    <message>
        <location filename="../../app/ui/flows/session_view.py" line="221"/>
        <source>End the session?</source>
        <translation>Terminer la session ?</translation>
    </message>
    <message>
        <location filename="../../app/ui/flows/session_view.py" line="222"/>
        <source>Closing this window logs out: the temporary key is revoked and the application quits.</source>
        <translation>Fermer cette fenêtre vous déconnecte : la clé temporaire est révoquée et l’application se ferme.</translation>
    </message>
    <message>
        <location filename="../../app/ui/flows/session_view.py" line="225"/>
        <source>&amp;Log out and quit</source>
        <translation>Se &amp;déconnecter et quitter</translation>
    </message>
    <message>
        <location filename="../../app/ui/flows/session_view.py" line="226"/>
        <source>&amp;Keep the session</source>
        <translation>&amp;Garder la session</translation>
    </message>
    <message>
        <location filename="../../app/ui/flows/session_view.py" line="235"/>
        <source>One minute left</source>
        <translation>Plus qu’une minute</translation>
    </message>
    <message>
        <location filename="../../app/ui/flows/session_view.py" line="236"/>
        <source>Insert the card within a minute, or the session ends and its temporary key is revoked.</source>
        <translation>Insérez la carte dans la minute, sinon la session se termine et sa clé temporaire est révoquée.</translation>
    </message>
    <message>
        <location filename="../../app/ui/flows/session_view.py" line="269"/>
        <source>Contacting the server and checking its certificate...</source>
        <translation>Connexion au serveur et vérification de son certificat...</translation>
    </message>
    <message>
        <location filename="../../app/ui/flows/session_view.py" line="270"/>
        <source>Server verified. Opening the card...</source>
        <translation>Serveur vérifié. Ouverture de la carte...</translation>
    </message>
    <message>
        <location filename="../../app/ui/flows/session_view.py" line="271"/>
        <source>Card unlocked. Checking the account and creating the temporary key...</source>
        <translation>Carte déverrouillée. Vérification du compte et création de la clé temporaire...</translation>
    </message>
    <message>
        <location filename="../../app/ui/flows/session_view.py" line="284"/>
        <source>Card removed</source>
        <translation>Carte retirée</translation>
    </message>
    <message>
        <location filename="../../app/ui/flows/session_view.py" line="285"/>
        <source>Insert the same card within %1 to keep the session.</source>
        <translation>Insérez la même carte dans les %1 pour garder la session.</translation>
    </message>
    <message>
        <location filename="../../app/ui/flows/session_view.py" line="345"/>
        <location filename="../../app/ui/flows/session_view.py" line="364"/>
        <source>%1: session active</source>
        <translation>%1 : session active</translation>
    </message>
    <message>
        <location filename="../../app/ui/flows/session_view.py" line="258"/>
        <source>&lt;b&gt;The card is back.&lt;/b&gt; Unlocking it...</source>
        <translation>&lt;b&gt;La carte est de retour.&lt;/b&gt; Déverrouillage...</translation>
    </message>
    <message>
        <location filename="../../app/ui/flows/session_view.py" line="348"/>
        <source>&amp;Show the session</source>
        <translation>&amp;Afficher la session</translation>
    </message>
    <message>
        <location filename="../../app/ui/flows/session_view.py" line="349"/>
        <source>Log &amp;out</source>
        <translation>Se déc&amp;onnecter</translation>
    </message>
    <message>
        <location filename="../../app/ui/flows/session_view.py" line="350"/>
        <source>&amp;Quit (logs out)</source>
        <translation>&amp;Quitter (déconnecte)</translation>
    </message>
    <message>
        <location filename="../../app/ui/flows/session_view.py" line="380"/>
        <source>Card removed: the session ends in %1</source>
        <translation>Carte retirée : la session se termine dans %1</translation>
    </message>
</context>
<context>
    <name>SessionWindow</name>
    <message>
        <location filename="../../app/ui/session_window.py" line="47"/>
        <source>1 hour</source>
        <translation>1 heure</translation>
    </message>
    <message>
        <location filename="../../app/ui/session_window.py" line="47"/>
        <source>%n hours</source>
        <translation>%n heures</translation>
    </message>
    <message>
        <location filename="../../app/ui/session_window.py" line="52"/>
        <source>1 minute</source>
        <translation>1 minute</translation>
    </message>
    <message>
        <location filename="../../app/ui/session_window.py" line="52"/>
        <source>%n minutes</source>
        <translation>%n minutes</translation>
    </message>
    <message>
        <location filename="../../app/ui/session_window.py" line="53"/>
        <source>%n seconds</source>
        <translation>%n secondes</translation>
    </message>
    <message>
        <location filename="../../app/ui/session_window.py" line="145"/>
        <source>&amp;Unlock card...</source>
        <translation>&amp;Déverrouiller la carte...</translation>
    </message>
    <message>
        <location filename="../../app/ui/session_window.py" line="157"/>
        <source>Account</source>
        <translation>Compte</translation>
    </message>
    <message>
        <location filename="../../app/ui/session_window.py" line="162"/>
        <source>Account ID:</source>
        <translation>ID du compte :</translation>
    </message>
    <message>
        <location filename="../../app/ui/session_window.py" line="163"/>
        <source>Email:</source>
        <translation>E-mail :</translation>
    </message>
    <message>
        <location filename="../../app/ui/session_window.py" line="165"/>
        <source>Logged in as:</source>
        <translation>Connecté en tant que :</translation>
    </message>
    <message>
        <location filename="../../app/ui/session_window.py" line="167"/>
        <source>Region / endpoint:</source>
        <translation>Région / point d’accès :</translation>
    </message>
    <message>
        <location filename="../../app/ui/session_window.py" line="75"/>
        <location filename="../../app/ui/session_window.py" line="172"/>
        <source>Session</source>
        <translation>Session</translation>
    </message>
    <message>
        <location filename="../../app/ui/session_window.py" line="90"/>
        <source>Session notice</source>
        <translation>Avis de session</translation>
    </message>
    <message>
        <location filename="../../app/ui/session_window.py" line="133"/>
        <source>Card removed</source>
        <translation>Carte retirée</translation>
    </message>
    <message>
        <location filename="../../app/ui/session_window.py" line="136"/>
        <source>Time left before the session ends</source>
        <translation>Temps restant avant la fin de la session</translation>
    </message>
    <message>
        <location filename="../../app/ui/session_window.py" line="183"/>
        <source>Method:</source>
        <translation>Méthode :</translation>
    </message>
    <message>
        <location filename="../../app/ui/session_window.py" line="184"/>
        <source>Certificate:</source>
        <translation>Certificat :</translation>
    </message>
    <message>
        <location filename="../../app/ui/session_window.py" line="185"/>
        <source>Card:</source>
        <translation>Carte :</translation>
    </message>
    <message>
        <location filename="../../app/ui/session_window.py" line="186"/>
        <source>Temporary key:</source>
        <translation>Clé temporaire :</translation>
    </message>
    <message>
        <location filename="../../app/ui/session_window.py" line="187"/>
        <source>Key expires:</source>
        <translation>Expiration de la clé :</translation>
    </message>
    <message>
        <location filename="../../app/ui/session_window.py" line="188"/>
        <source>Trusted session:</source>
        <translation>Session de confiance :</translation>
    </message>
    <message>
        <location filename="../../app/ui/session_window.py" line="189"/>
        <source>If the card is removed:</source>
        <translation>Si la carte est retirée :</translation>
    </message>
    <message>
        <location filename="../../app/ui/session_window.py" line="190"/>
        <source>Connection:</source>
        <translation>Connexion :</translation>
    </message>
    <message>
        <location filename="../../app/ui/session_window.py" line="195"/>
        <source>Virtual machines</source>
        <translation>Machines virtuelles</translation>
    </message>
    <message>
        <location filename="../../app/ui/session_window.py" line="200"/>
        <source>VM ID</source>
        <translation>ID de VM</translation>
    </message>
    <message>
        <location filename="../../app/ui/session_window.py" line="200"/>
        <source>Name</source>
        <translation>Nom</translation>
    </message>
    <message>
        <location filename="../../app/ui/session_window.py" line="200"/>
        <source>State</source>
        <translation>État</translation>
    </message>
    <message>
        <location filename="../../app/ui/session_window.py" line="200"/>
        <source>Type</source>
        <translation>Type</translation>
    </message>
    <message>
        <location filename="../../app/ui/session_window.py" line="201"/>
        <source>Private IP</source>
        <translation>IP privée</translation>
    </message>
    <message>
        <location filename="../../app/ui/session_window.py" line="210"/>
        <source>&amp;Refresh</source>
        <translation>Actualise&amp;r</translation>
    </message>
    <message>
        <location filename="../../app/ui/session_window.py" line="223"/>
        <source>Log &amp;out</source>
        <translation>Se déc&amp;onnecter</translation>
    </message>
    <message>
        <location filename="../../app/ui/session_window.py" line="226"/>
        <source>Set up certificate &amp;login...</source>
        <translation>Conne&amp;xion par certificat...</translation>
    </message>
    <message>
        <location filename="../../app/ui/session_window.py" line="245"/>
        <source>Login and password</source>
        <translation>Identifiant et mot de passe</translation>
    </message>
    <message>
        <location filename="../../app/ui/session_window.py" line="246"/>
        <source>Access key</source>
        <translation>Clé d’accès</translation>
    </message>
    <message>
        <location filename="../../app/ui/session_window.py" line="247"/>
        <source>none</source>
        <translation>aucun</translation>
    </message>
    <message>
        <location filename="../../app/ui/session_window.py" line="248"/>
        <source>none (certificate file)</source>
        <translation>aucune (fichier de certificat)</translation>
    </message>
    <message>
        <location filename="../../app/ui/session_window.py" line="249"/>
        <source>none (your own key is used)</source>
        <translation>aucune (votre propre clé est utilisée)</translation>
    </message>
    <message>
        <location filename="../../app/ui/session_window.py" line="253"/>
        <source>Yes: activated through the API (RequireTrustedEnv)</source>
        <translation>Oui : activée par l’API (RequireTrustedEnv)</translation>
    </message>
    <message>
        <location filename="../../app/ui/session_window.py" line="255"/>
        <source>No: simulated by this application</source>
        <translation>Non : simulée par cette application</translation>
    </message>
    <message>
        <location filename="../../app/ui/session_window.py" line="258"/>
        <source>the session ends %1 later</source>
        <translation>la session se termine %1 plus tard</translation>
    </message>
    <message>
        <location filename="../../app/ui/session_window.py" line="261"/>
        <source>not watched (certificate file)</source>
        <translation>non surveillée (fichier de certificat)</translation>
    </message>
    <message>
        <location filename="../../app/ui/session_window.py" line="267"/>
        <location filename="../../app/ui/session_window.py" line="349"/>
        <source>Session active.</source>
        <translation>Session active.</translation>
    </message>
    <message>
        <location filename="../../app/ui/session_window.py" line="284"/>
        <source>%n VM(s), read at %1</source>
        <translation>%n VM, lues à %1</translation>
    </message>
    <message>
        <location filename="../../app/ui/session_window.py" line="335"/>
        <source>&lt;b&gt;The card was removed.&lt;/b&gt; The session stays usable meanwhile. Insert the same card to keep it; when the time runs out, the session ends and its temporary key is revoked.</source>
        <translation>&lt;b&gt;La carte a été retirée.&lt;/b&gt; La session reste utilisable en attendant. Insérez la même carte pour la garder ; à la fin du décompte, la session se termine et sa clé temporaire est révoquée.</translation>
    </message>
    <message>
        <location filename="../../app/ui/session_window.py" line="337"/>
        <source>Card removed: the session is in its grace period.</source>
        <translation>Carte retirée : la session est dans son délai de grâce.</translation>
    </message>
    <message>
        <location filename="../../app/ui/session_window.py" line="364"/>
        <source>&lt;b&gt;The card is back but not unlocked.&lt;/b&gt; The session stays usable meanwhile; unlock the card before the time runs out to keep it.</source>
        <translation>&lt;b&gt;La carte est revenue mais n’est pas déverrouillée.&lt;/b&gt; La session reste utilisable en attendant ; déverrouillez la carte avant la fin du décompte pour la garder.</translation>
    </message>
    <message>
        <location filename="../../app/ui/session_window.py" line="379"/>
        <source>%1 left before the session ends</source>
        <translation>%1 avant la fin de la session</translation>
    </message>
    <message>
        <location filename="../../app/ui/session_window.py" line="382"/>
        <source>%1 - card removed - %2</source>
        <translation>%1 - carte retirée - %2</translation>
    </message>
    <message>
        <location filename="../../app/ui/session_window.py" line="392"/>
        <source>Reading the VMs...</source>
        <translation>Lecture des VM...</translation>
    </message>
    <message>
        <location filename="../../app/ui/session_window.py" line="398"/>
        <source>Logging out: revoking the temporary key...</source>
        <translation>Déconnexion : révocation de la clé temporaire...</translation>
    </message>
</context>
<context>
    <name>SettingsDialog</name>
    <message>
        <location filename="../../app/ui/settings.py" line="180"/>
        <source>Let my OUTSCALE tools use the session (local API a&amp;gent)</source>
        <translation>Permettre à mes outils OUTSCALE d’utiliser la session (a&amp;gent d’API local)</translation>
    </message>
    <message>
        <location filename="../../app/ui/settings.py" line="187"/>
        <source>none (osc-trusted-login env / exec)</source>
        <translation>aucun (osc-trusted-login env / exec)</translation>
    </message>
    <message>
        <location filename="../../app/ui/settings.py" line="188"/>
        <source>Publish as osc &amp;profile:</source>
        <translation>Publier comme &amp;profil osc :</translation>
    </message>
    <message>
        <location filename="../../app/ui/settings.py" line="90"/>
        <source>Settings</source>
        <translation>Paramètres</translation>
    </message>
    <message>
        <location filename="../../app/ui/settings.py" line="101"/>
        <source>A new language applies as soon as the settings are saved.</source>
        <translation>Une nouvelle langue s’applique dès l’enregistrement des paramètres.</translation>
    </message>
    <message>
        <location filename="../../app/ui/settings.py" line="128"/>
        <source>Smart card modules (PKCS#11)</source>
        <translation>Modules de cartes à puce (PKCS#11)</translation>
    </message>
    <message>
        <location filename="../../app/ui/settings.py" line="133"/>
        <source>Looking for modules...</source>
        <translation>Recherche des modules...</translation>
    </message>
    <message>
        <location filename="../../app/ui/settings.py" line="137"/>
        <source>A&amp;dd module...</source>
        <translation>A&amp;jouter un module...</translation>
    </message>
    <message>
        <location filename="../../app/ui/settings.py" line="139"/>
        <source>Re&amp;move</source>
        <translation>&amp;Retirer</translation>
    </message>
    <message>
        <location filename="../../app/ui/settings.py" line="156"/>
        <source>Local certificate &amp;folder:</source>
        <translation>&amp;Dossier de certificats local :</translation>
    </message>
    <message>
        <location filename="../../app/ui/settings.py" line="161"/>
        <source>only if your company inspects TLS traffic</source>
        <translation>seulement si votre entreprise inspecte le trafic TLS</translation>
    </message>
    <message>
        <location filename="../../app/ui/settings.py" line="163"/>
        <source>Extra C&amp;A bundle:</source>
        <translation>&amp;CA supplémentaires :</translation>
    </message>
    <message>
        <location filename="../../app/ui/settings.py" line="168"/>
        <source>System language</source>
        <translation>Langue du système</translation>
    </message>
    <message>
        <location filename="../../app/ui/settings.py" line="172"/>
        <source>&amp;Language:</source>
        <translation>&amp;Langue :</translation>
    </message>
    <message>
        <location filename="../../app/ui/settings.py" line="114"/>
        <source>&amp;Save</source>
        <translation>&amp;Enregistrer</translation>
    </message>
    <message>
        <location filename="../../app/ui/settings.py" line="116"/>
        <source>&amp;Cancel</source>
        <translation>&amp;Annuler</translation>
    </message>
    <message>
        <location filename="../../app/ui/settings.py" line="175"/>
        <source>Closing the session window keeps the session in the &amp;tray</source>
        <translation>Fermer la fenêtre de session garde la session dans la zone de no&amp;tification</translation>
    </message>
    <message>
        <location filename="../../app/ui/settings.py" line="202"/>
        <source>Browse...</source>
        <translation>Parcourir...</translation>
    </message>
    <message>
        <location filename="../../app/ui/settings.py" line="212"/>
        <source>Choose a folder</source>
        <translation>Choisir un dossier</translation>
    </message>
    <message>
        <location filename="../../app/ui/settings.py" line="219"/>
        <source>Choose a CA bundle</source>
        <translation>Choisir un fichier de CA</translation>
    </message>
    <message>
        <location filename="../../app/ui/settings.py" line="221"/>
        <source>Certificates (*.pem *.crt);;All files (*)</source>
        <translation>Certificats (*.pem *.crt);;Tous les fichiers (*)</translation>
    </message>
    <message>
        <location filename="../../app/ui/settings.py" line="230"/>
        <source>%1 (found)</source>
        <translation>%1 (trouvé)</translation>
    </message>
    <message>
        <location filename="../../app/ui/settings.py" line="239"/>
        <source>%n module(s) found on this system.</source>
        <translation>%n module(s) trouvé(s) sur ce système.</translation>
    </message>
    <message>
        <location filename="../../app/ui/settings.py" line="244"/>
        <source>Choose a PKCS#11 module</source>
        <translation>Choisir un module PKCS#11</translation>
    </message>
    <message>
        <location filename="../../app/ui/settings.py" line="246"/>
        <source>Libraries (*.so *.dylib *.dll);;All files (*)</source>
        <translation>Bibliothèques (*.so *.dylib *.dll);;Tous les fichiers (*)</translation>
    </message>
    <message>
        <location filename="../../app/ui/settings.py" line="268"/>
        <source>The CA bundle %1 does not exist.</source>
        <translation>Le fichier de CA %1 n’existe pas.</translation>
    </message>
    <message>
        <location filename="../../app/ui/settings.py" line="272"/>
        <source>The folder %1 does not exist.</source>
        <translation>Le dossier %1 n’existe pas.</translation>
    </message>
</context>
<context>
    <name>TrustedLoginApp</name>
    <message>
        <location filename="../../app/ui/app.py" line="216"/>
        <source>Some configuration could not be read</source>
        <translation>Une partie de la configuration n’a pas pu être lue</translation>
    </message>
    <message>
        <location filename="../../app/ui/app.py" line="243"/>
        <source>Your login could not be remembered: %1</source>
        <translation>Votre identifiant n’a pas pu être retenu : %1</translation>
    </message>
    <message>
        <location filename="../../app/ui/app.py" line="332"/>
        <source>Quitting: revoking the temporary key...</source>
        <translation>Fermeture : révocation de la clé temporaire...</translation>
    </message>
    <message>
        <location filename="../../app/ui/app.py" line="362"/>
        <source>its expiry date</source>
        <translation>sa date d’expiration</translation>
    </message>
    <message>
        <location filename="../../app/ui/app.py" line="373"/>
        <source>Key not revoked</source>
        <translation>Clé non révoquée</translation>
    </message>
    <message>
        <location filename="../../app/ui/app.py" line="378"/>
        <source>The temporary access key %1 could not be revoked. It stays valid until %2. Delete it in Cockpit if this computer is not trusted.</source>
        <translation>La clé d’accès temporaire %1 n’a pas pu être révoquée. Elle reste valide jusqu’au %2. Supprimez-la dans Cockpit si cet ordinateur n’est pas de confiance.</translation>
    </message>
</context>
<context>
    <name>describe</name>
    <message>
        <location filename="../../app/ui/errors.py" line="25"/>
        <source>the card</source>
        <translation>la carte</translation>
    </message>
    <message>
        <location filename="../../app/ui/errors.py" line="49"/>
        <source>The PIN of %1 is incorrect. Type it again carefully; it is never retried for you.</source>
        <translation>Le code PIN de %1 est incorrect. Saisissez-le à nouveau avec soin ; il n’est jamais réessayé à votre place.</translation>
    </message>
    <message>
        <location filename="../../app/ui/errors.py" line="52"/>
        <location filename="../../app/ui/errors.py" line="434"/>
        <source>Warning: one more wrong PIN will lock the card.</source>
        <translation>Attention : un code PIN erroné de plus bloquera la carte.</translation>
    </message>
    <message>
        <location filename="../../app/ui/errors.py" line="53"/>
        <location filename="../../app/ui/errors.py" line="435"/>
        <source>Tries left: %1.</source>
        <translation>Essais restants : %1.</translation>
    </message>
    <message>
        <location filename="../../app/ui/errors.py" line="54"/>
        <source>Wrong PIN</source>
        <translation>Code PIN erroné</translation>
    </message>
    <message>
        <location filename="../../app/ui/errors.py" line="58"/>
        <source>Card locked</source>
        <translation>Carte bloquée</translation>
    </message>
    <message>
        <location filename="../../app/ui/errors.py" line="62"/>
        <source>The PIN of %1 is blocked after too many wrong tries. The card cannot be used until an administrator unblocks it with the PUK or SO PIN. Contact your security officer.</source>
        <translation>Le code PIN de %1 est bloqué après trop d’essais erronés. La carte est inutilisable tant qu’un administrateur ne l’a pas débloquée avec le PUK ou le code SO. Contactez votre responsable sécurité.</translation>
    </message>
    <message>
        <location filename="../../app/ui/errors.py" line="66"/>
        <source>PIN not accepted</source>
        <translation>Code PIN refusé</translation>
    </message>
    <message>
        <location filename="../../app/ui/errors.py" line="73"/>
        <source>The card does not accept a PIN of this length or with these characters. This did not count as a try.</source>
        <translation>La carte n’accepte pas un code PIN de cette longueur ou avec ces caractères. Cela n’a pas compté comme un essai.</translation>
    </message>
    <message>
        <location filename="../../app/ui/errors.py" line="74"/>
        <source>Cancelled</source>
        <translation>Annulé</translation>
    </message>
    <message>
        <location filename="../../app/ui/errors.py" line="79"/>
        <source>The PIN was not entered, so the login was cancelled.</source>
        <translation>Le code PIN n’a pas été saisi : la connexion a été annulée.</translation>
    </message>
    <message>
        <location filename="../../app/ui/errors.py" line="80"/>
        <source>Card removed</source>
        <translation>Carte retirée</translation>
    </message>
    <message>
        <location filename="../../app/ui/errors.py" line="82"/>
        <source>%1 was removed while it was in use. Insert it again.</source>
        <translation>%1 a été retirée pendant son utilisation. Insérez-la à nouveau.</translation>
    </message>
    <message>
        <location filename="../../app/ui/errors.py" line="86"/>
        <source>Card not found</source>
        <translation>Carte introuvable</translation>
    </message>
    <message>
        <location filename="../../app/ui/errors.py" line="88"/>
        <source>%1 is not in the reader. Insert the card and try again.</source>
        <translation>%1 n’est pas dans le lecteur. Insérez la carte et réessayez.</translation>
    </message>
    <message>
        <location filename="../../app/ui/errors.py" line="92"/>
        <source>Card software not loaded</source>
        <translation>Logiciel de carte non chargé</translation>
    </message>
    <message>
        <location filename="../../app/ui/errors.py" line="94"/>
        <source>The PKCS#11 module %1 could not be loaded: %2. Check the module path in Settings.</source>
        <translation>Le module PKCS#11 %1 n’a pas pu être chargé : %2. Vérifiez le chemin du module dans les Paramètres.</translation>
    </message>
    <message>
        <location filename="../../app/ui/errors.py" line="98"/>
        <source>Card not compatible</source>
        <translation>Carte non compatible</translation>
    </message>
    <message>
        <location filename="../../app/ui/errors.py" line="104"/>
        <source>The card cannot make the kind of signature the server asks for. Try another certificate.</source>
        <translation>La carte ne sait pas faire le type de signature demandé par le serveur. Essayez un autre certificat.</translation>
    </message>
    <message>
        <location filename="../../app/ui/errors.py" line="105"/>
        <source>Key not found</source>
        <translation>Clé introuvable</translation>
    </message>
    <message>
        <location filename="../../app/ui/errors.py" line="111"/>
        <source>The card has this certificate but not its private key, so it cannot be used to log in.</source>
        <translation>La carte a ce certificat mais pas sa clé privée : il ne peut pas servir à se connecter.</translation>
    </message>
    <message>
        <location filename="../../app/ui/errors.py" line="112"/>
        <source>Certificate not usable</source>
        <translation>Certificat inutilisable</translation>
    </message>
    <message>
        <location filename="../../app/ui/errors.py" line="114"/>
        <source>This certificate cannot be used to log in: %1</source>
        <translation>Ce certificat ne peut pas servir à se connecter : %1</translation>
    </message>
    <message>
        <location filename="../../app/ui/errors.py" line="118"/>
        <source>Wrong file password</source>
        <translation>Mot de passe du fichier erroné</translation>
    </message>
    <message>
        <location filename="../../app/ui/errors.py" line="123"/>
        <source>The password of the certificate file is wrong. Type it again.</source>
        <translation>Le mot de passe du fichier de certificat est erroné. Saisissez-le à nouveau.</translation>
    </message>
    <message>
        <location filename="../../app/ui/errors.py" line="124"/>
        <source>Certificate file unreadable</source>
        <translation>Fichier de certificat illisible</translation>
    </message>
    <message>
        <location filename="../../app/ui/errors.py" line="126"/>
        <source>The certificate file could not be read: %1</source>
        <translation>Le fichier de certificat n’a pas pu être lu : %1</translation>
    </message>
    <message>
        <location filename="../../app/ui/errors.py" line="130"/>
        <location filename="../../app/ui/errors.py" line="136"/>
        <source>Card error</source>
        <translation>Erreur de carte</translation>
    </message>
    <message>
        <location filename="../../app/ui/errors.py" line="132"/>
        <source>The card reported an error (%1). Remove and insert it, then try again.</source>
        <translation>La carte a signalé une erreur (%1). Retirez-la et réinsérez-la, puis réessayez.</translation>
    </message>
    <message>
        <location filename="../../app/ui/errors.py" line="132"/>
        <source>unknown</source>
        <translation>inconnue</translation>
    </message>
    <message>
        <location filename="../../app/ui/errors.py" line="138"/>
        <source>The card could not be used: %1</source>
        <translation>La carte n’a pas pu être utilisée : %1</translation>
    </message>
    <message>
        <location filename="../../app/ui/errors.py" line="145"/>
        <source>Server not trusted</source>
        <translation>Serveur non fiable</translation>
    </message>
    <message>
        <location filename="../../app/ui/errors.py" line="149"/>
        <source>The server %1 could not prove its identity (%2). The connection was stopped to protect you. If your company inspects TLS traffic, add its CA bundle in Settings.</source>
        <translation>Le serveur %1 n’a pas pu prouver son identité (%2). La connexion a été arrêtée pour vous protéger. Si votre entreprise inspecte le trafic TLS, ajoutez son fichier de CA dans les Paramètres.</translation>
    </message>
    <message>
        <location filename="../../app/ui/errors.py" line="149"/>
        <location filename="../../app/ui/errors.py" line="165"/>
        <location filename="../../app/ui/errors.py" line="171"/>
        <source>the server</source>
        <translation>le serveur</translation>
    </message>
    <message>
        <location filename="../../app/ui/errors.py" line="151"/>
        <source>certificate not trusted</source>
        <translation>certificat non reconnu</translation>
    </message>
    <message>
        <location filename="../../app/ui/errors.py" line="155"/>
        <source>Certificate refused</source>
        <translation>Certificat refusé</translation>
    </message>
    <message>
        <location filename="../../app/ui/errors.py" line="162"/>
        <source>The server refused your certificate during the secure connection. Check that it is the certificate registered for this account and that it has not expired.</source>
        <translation>Le serveur a refusé votre certificat pendant la connexion sécurisée. Vérifiez que c’est le certificat enregistré pour ce compte et qu’il n’a pas expiré.</translation>
    </message>
    <message>
        <location filename="../../app/ui/errors.py" line="163"/>
        <source>No answer</source>
        <translation>Pas de réponse</translation>
    </message>
    <message>
        <location filename="../../app/ui/errors.py" line="165"/>
        <source>The server %1 did not answer in time. Check your network and try again.</source>
        <translation>Le serveur %1 n’a pas répondu à temps. Vérifiez votre réseau et réessayez.</translation>
    </message>
    <message>
        <location filename="../../app/ui/errors.py" line="169"/>
        <source>Server unreachable</source>
        <translation>Serveur injoignable</translation>
    </message>
    <message>
        <location filename="../../app/ui/errors.py" line="171"/>
        <source>The server %1 could not be reached. Check the Region or endpoint and your network.</source>
        <translation>Le serveur %1 est injoignable. Vérifiez la Région ou le point d’accès et votre réseau.</translation>
    </message>
    <message>
        <location filename="../../app/ui/errors.py" line="175"/>
        <source>Secure connection failed</source>
        <translation>Échec de la connexion sécurisée</translation>
    </message>
    <message>
        <location filename="../../app/ui/errors.py" line="177"/>
        <source>The secure connection to the server failed: %1</source>
        <translation>La connexion sécurisée au serveur a échoué : %1</translation>
    </message>
    <message>
        <location filename="../../app/ui/errors.py" line="184"/>
        <source>Certificate not allowed</source>
        <translation>Certificat non autorisé</translation>
    </message>
    <message>
        <location filename="../../app/ui/errors.py" line="192"/>
        <source>The account&apos;s API access rules do not allow this certificate (its issuer or name) or your network address. Pick the certificate registered for this account, or ask the account administrator to add its CA.</source>
        <translation>Les règles d’accès à l’API du compte n’autorisent pas ce certificat (son émetteur ou son nom) ou votre adresse réseau. Choisissez le certificat enregistré pour ce compte, ou demandez à l’administrateur du compte d’ajouter sa CA.</translation>
    </message>
    <message>
        <location filename="../../app/ui/errors.py" line="194"/>
        <location filename="../../app/ui/errors.py" line="199"/>
        <source>Login locked</source>
        <translation>Connexion bloquée</translation>
    </message>
    <message>
        <location filename="../../app/ui/errors.py" line="199"/>
        <source>Too many failed logins: authentication is locked for this account. Contact support to unlock it.</source>
        <translation>Trop d’échecs de connexion : l’authentification est bloquée pour ce compte. Contactez le support pour la débloquer.</translation>
    </message>
    <message>
        <location filename="../../app/ui/errors.py" line="202"/>
        <source>Too many failed logins: authentication is locked for %1 (min:s). Wait, then try again.</source>
        <translation>Trop d’échecs de connexion : l’authentification est bloquée pendant %1 (min:s). Patientez, puis réessayez.</translation>
    </message>
    <message>
        <location filename="../../app/ui/errors.py" line="206"/>
        <source>Login refused</source>
        <translation>Connexion refusée</translation>
    </message>
    <message>
        <location filename="../../app/ui/errors.py" line="213"/>
        <source>The login and password (or access key and secret key) were refused. Check them; after four failures the account is locked for a minute.</source>
        <translation>L’identifiant et le mot de passe (ou la clé d’accès et la clé secrète) ont été refusés. Vérifiez-les ; après quatre échecs le compte est bloqué une minute.</translation>
    </message>
    <message>
        <location filename="../../app/ui/errors.py" line="214"/>
        <source>Password expired</source>
        <translation>Mot de passe expiré</translation>
    </message>
    <message>
        <location filename="../../app/ui/errors.py" line="219"/>
        <source>Your password has expired. Change it in Cockpit, then log in again.</source>
        <translation>Votre mot de passe a expiré. Changez-le dans Cockpit, puis reconnectez-vous.</translation>
    </message>
    <message>
        <location filename="../../app/ui/errors.py" line="220"/>
        <source>Not allowed</source>
        <translation>Non autorisé</translation>
    </message>
    <message>
        <location filename="../../app/ui/errors.py" line="225"/>
        <source>Your user is not allowed to do this. Ask the account administrator.</source>
        <translation>Votre utilisateur n’est pas autorisé à faire cela. Demandez à l’administrateur du compte.</translation>
    </message>
    <message>
        <location filename="../../app/ui/errors.py" line="226"/>
        <source>Wrong kind of login</source>
        <translation>Mauvais type de connexion</translation>
    </message>
    <message>
        <location filename="../../app/ui/errors.py" line="231"/>
        <source>This operation does not accept this kind of login. Try with an access key instead.</source>
        <translation>Cette opération n’accepte pas ce type de connexion. Essayez plutôt avec une clé d’accès.</translation>
    </message>
    <message>
        <location filename="../../app/ui/errors.py" line="232"/>
        <source>Too many requests</source>
        <translation>Trop de requêtes</translation>
    </message>
    <message>
        <location filename="../../app/ui/errors.py" line="237"/>
        <source>The API asks to slow down. Wait a few seconds and try again.</source>
        <translation>L’API demande de ralentir. Patientez quelques secondes et réessayez.</translation>
    </message>
    <message>
        <location filename="../../app/ui/errors.py" line="238"/>
        <source>Quota reached</source>
        <translation>Quota atteint</translation>
    </message>
    <message>
        <location filename="../../app/ui/errors.py" line="245"/>
        <source>A quota was reached (a user can have at most 10 access keys). Delete an unused access key in Cockpit and try again.</source>
        <translation>Un quota a été atteint (un utilisateur peut avoir au plus 10 clés d’accès). Supprimez une clé d’accès inutilisée dans Cockpit et réessayez.</translation>
    </message>
    <message>
        <location filename="../../app/ui/errors.py" line="246"/>
        <source>Service unavailable</source>
        <translation>Service indisponible</translation>
    </message>
    <message>
        <location filename="../../app/ui/errors.py" line="251"/>
        <source>The API is unavailable or answered something unexpected. Try again later.</source>
        <translation>L’API est indisponible ou a répondu quelque chose d’inattendu. Réessayez plus tard.</translation>
    </message>
    <message>
        <location filename="../../app/ui/errors.py" line="252"/>
        <source>Request refused</source>
        <translation>Requête refusée</translation>
    </message>
    <message>
        <location filename="../../app/ui/errors.py" line="254"/>
        <source>The API refused the request: %1</source>
        <translation>L’API a refusé la requête : %1</translation>
    </message>
    <message>
        <location filename="../../app/ui/errors.py" line="261"/>
        <source>Configuration problem</source>
        <translation>Problème de configuration</translation>
    </message>
    <message>
        <location filename="../../app/ui/errors.py" line="263"/>
        <source>A configuration file could not be used: %1</source>
        <translation>Un fichier de configuration n’a pas pu être utilisé : %1</translation>
    </message>
    <message>
        <location filename="../../app/ui/errors.py" line="267"/>
        <location filename="../../app/ui/errors.py" line="353"/>
        <source>Session ended</source>
        <translation>Session terminée</translation>
    </message>
    <message>
        <location filename="../../app/ui/errors.py" line="272"/>
        <source>The session has ended. Log in again.</source>
        <translation>La session est terminée. Reconnectez-vous.</translation>
    </message>
    <message>
        <location filename="../../app/ui/errors.py" line="279"/>
        <source>Help: %1</source>
        <translation>Aide : %1</translation>
    </message>
    <message>
        <location filename="../../app/ui/errors.py" line="284"/>
        <source>Not allowed by your organisation</source>
        <translation>Interdit par votre organisation</translation>
    </message>
    <message>
        <location filename="../../app/ui/errors.py" line="288"/>
        <source>Session error</source>
        <translation>Erreur de session</translation>
    </message>
    <message>
        <location filename="../../app/ui/errors.py" line="392"/>
        <source>The account could not be read (%1).</source>
        <translation>Le compte n’a pas pu être lu (%1).</translation>
    </message>
    <message>
        <location filename="../../app/ui/errors.py" line="395"/>
        <source>the access key quota is full: at most 10 keys per user</source>
        <translation>le quota de clés d’accès est atteint : au plus 10 clés par utilisateur</translation>
    </message>
    <message>
        <location filename="../../app/ui/errors.py" line="400"/>
        <source>No temporary access key could be created (%1); this session signs its calls with the access key you gave, which stays valid after the session.</source>
        <translation>Aucune clé d’accès temporaire n’a pu être créée (%1) ; cette session signe ses appels avec la clé d’accès que vous avez donnée, qui reste valide après la session.</translation>
    </message>
    <message>
        <location filename="../../app/ui/errors.py" line="407"/>
        <source>The card&apos;s PIN was not given: the countdown goes on. Remove and insert the card, or unlock it, to continue the session.</source>
        <translation>Le code PIN de la carte n’a pas été saisi : le décompte continue. Retirez et réinsérez la carte, ou déverrouillez-la, pour poursuivre la session.</translation>
    </message>
    <message>
        <location filename="../../app/ui/errors.py" line="410"/>
        <source>The card could not be unlocked (%1); the countdown goes on.</source>
        <translation>La carte n’a pas pu être déverrouillée (%1) ; le décompte continue.</translation>
    </message>
    <message>
        <location filename="../../app/ui/errors.py" line="416"/>
        <source>The previous temporary access key %1 could not be deleted (%2); it stays valid until %3.</source>
        <translation>L’ancienne clé d’accès temporaire %1 n’a pas pu être supprimée (%2) ; elle reste valide jusqu’au %3.</translation>
    </message>
    <message>
        <location filename="../../app/ui/errors.py" line="430"/>
        <source>The card&apos;s PIN is blocked after too many wrong tries; the countdown goes on. Contact your security officer.</source>
        <translation>Le code PIN de la carte est bloqué après trop d’essais erronés ; le décompte continue. Contactez votre responsable sécurité.</translation>
    </message>
    <message>
        <location filename="../../app/ui/errors.py" line="431"/>
        <source>Wrong PIN; the countdown goes on.</source>
        <translation>Code PIN incorrect ; le décompte continue.</translation>
    </message>
    <message>
        <location filename="../../app/ui/errors.py" line="38"/>
        <source>Unexpected error</source>
        <translation>Erreur inattendue</translation>
    </message>
    <message>
        <location filename="../../app/ui/errors.py" line="40"/>
        <source>Something unexpected happened (%1). Please report it.</source>
        <translation>Un événement inattendu s’est produit (%1). Merci de le signaler.</translation>
    </message>
    <message>
        <location filename="../../app/ui/errors.py" line="348"/>
        <source>Session ended: card removed</source>
        <translation>Session terminée : carte retirée</translation>
    </message>
    <message>
        <location filename="../../app/ui/errors.py" line="349"/>
        <source>The card was not inserted again in time, so the session ended.</source>
        <translation>La carte n’a pas été réinsérée à temps : la session s’est terminée.</translation>
    </message>
    <message>
        <location filename="../../app/ui/errors.py" line="351"/>
        <source>Logged out</source>
        <translation>Déconnecté</translation>
    </message>
    <message>
        <location filename="../../app/ui/errors.py" line="351"/>
        <source>You logged out.</source>
        <translation>Vous vous êtes déconnecté.</translation>
    </message>
    <message>
        <location filename="../../app/ui/errors.py" line="354"/>
        <source>The application quit, so the session ended.</source>
        <translation>L’application a été fermée : la session s’est terminée.</translation>
    </message>
    <message>
        <location filename="../../app/ui/errors.py" line="357"/>
        <source>Session ended: key expired</source>
        <translation>Session terminée : clé expirée</translation>
    </message>
    <message>
        <location filename="../../app/ui/errors.py" line="360"/>
        <source>The session&apos;s temporary access key reached its expiry date. Log in again.</source>
        <translation>La clé d’accès temporaire de la session a atteint sa date d’expiration. Reconnectez-vous.</translation>
    </message>
    <message>
        <location filename="../../app/ui/errors.py" line="363"/>
        <source>Session ended after an error</source>
        <translation>Session terminée après une erreur</translation>
    </message>
    <message>
        <location filename="../../app/ui/errors.py" line="296"/>
        <location filename="../../app/ui/errors.py" line="364"/>
        <source>The session could not go on.</source>
        <translation>La session n’a pas pu continuer.</translation>
    </message>
    <message>
        <location filename="../../app/ui/errors.py" line="367"/>
        <source>Login failed</source>
        <translation>Échec de la connexion</translation>
    </message>
    <message>
        <location filename="../../app/ui/errors.py" line="368"/>
        <source>The login failed.</source>
        <translation>La connexion a échoué.</translation>
    </message>
    <message>
        <location filename="../../app/ui/errors.py" line="373"/>
        <source>The temporary access key was revoked.</source>
        <translation>La clé d’accès temporaire a été révoquée.</translation>
    </message>
    <message>
        <location filename="../../app/ui/errors.py" line="379"/>
        <source>The temporary access key could not be revoked; it stays valid until its expiry date. Delete it in Cockpit if this computer is not trusted.</source>
        <translation>La clé d’accès temporaire n’a pas pu être révoquée ; elle reste valide jusqu’à sa date d’expiration. Supprimez-la dans Cockpit si cet ordinateur n’est pas de confiance.</translation>
    </message>
    <message>
        <location filename="../../app/ui/inventory.py" line="112"/>
        <source>the certificate data cannot be parsed</source>
        <translation>les données du certificat sont illisibles</translation>
    </message>
    <message>
        <location filename="../../app/ui/inventory.py" line="113"/>
        <source>the certificate cannot be read from the card</source>
        <translation>le certificat ne peut pas être lu sur la carte</translation>
    </message>
    <message>
        <location filename="../../app/ui/inventory.py" line="114"/>
        <source>no private key for this certificate</source>
        <translation>pas de clé privée pour ce certificat</translation>
    </message>
    <message>
        <location filename="../../app/ui/inventory.py" line="115"/>
        <source>the private key is not allowed to sign</source>
        <translation>la clé privée n’a pas le droit de signer</translation>
    </message>
    <message>
        <location filename="../../app/ui/inventory.py" line="116"/>
        <source>the certificate has expired</source>
        <translation>le certificat a expiré</translation>
    </message>
    <message>
        <location filename="../../app/ui/inventory.py" line="117"/>
        <source>the certificate is not valid yet</source>
        <translation>le certificat n’est pas encore valide</translation>
    </message>
    <message>
        <location filename="../../app/ui/inventory.py" line="120"/>
        <source>not for client authentication (extended key usage)</source>
        <translation>pas prévu pour l’authentification client (usage étendu de la clé)</translation>
    </message>
    <message>
        <location filename="../../app/ui/inventory.py" line="123"/>
        <source>its key usage does not allow digital signatures</source>
        <translation>son usage de clé n’autorise pas les signatures numériques</translation>
    </message>
    <message>
        <location filename="../../app/ui/inventory.py" line="124"/>
        <source>unsupported key type (RSA and EC only)</source>
        <translation>type de clé non pris en charge (RSA et EC seulement)</translation>
    </message>
    <message>
        <location filename="../../app/ui/inventory.py" line="125"/>
        <source>the card holding its key is not in its reader</source>
        <translation>la carte qui porte sa clé n&apos;est pas dans son lecteur</translation>
    </message>
</context>
<context>
    <name>picker</name>
    <message>
        <location filename="../../app/ui/inventory.py" line="84"/>
        <source>software key</source>
        <extracomment>The committed sources (.ts); the compiled .qm never go into git. Where a packaged build ships compiled translations (the installer recipes run lrelease).</extracomment>
        <translation>clé logicielle</translation>
    </message>
    <message>
        <location filename="../../app/ui/inventory.py" line="84"/>
        <source>card key</source>
        <translation>clé sur carte</translation>
    </message>
</context>
<context>
    <name>policy</name>
    <message>
        <location filename="../../app/ui/policy_marks.py" line="30"/>
        <source>Set by your organisation</source>
        <translation>Défini par votre organisation</translation>
    </message>
    <message>
        <location filename="../../app/ui/policy_marks.py" line="77"/>
        <source>Endpoint: %1 (set by your organisation).</source>
        <translation>Point d’accès : %1 (défini par votre organisation).</translation>
    </message>
    <message>
        <location filename="../../app/ui/policy_marks.py" line="79"/>
        <source>Your organisation allows these endpoints only: %1.</source>
        <translation>Votre organisation n’autorise que ces points d’accès : %1.</translation>
    </message>
    <message>
        <location filename="../../app/ui/policy_marks.py" line="85"/>
        <source>Remember my login: off (set by your organisation).</source>
        <translation>Se souvenir de mon identifiant : désactivé (défini par votre organisation).</translation>
    </message>
    <message>
        <location filename="../../app/ui/policy_marks.py" line="88"/>
        <source>Smart cards only: keys in files are not allowed by your organisation.</source>
        <translation>Cartes à puce uniquement : votre organisation n’autorise pas les clés dans des fichiers.</translation>
    </message>
    <message>
        <location filename="../../app/ui/policy_marks.py" line="103"/>
        <source>Managed by your organisation (%1). Fields it sets are read-only.</source>
        <translation>Géré par votre organisation (%1). Les champs qu’elle définit sont en lecture seule.</translation>
    </message>
    <message>
        <location filename="../../app/ui/policy_marks.py" line="104"/>
        <source>Unknown key (ignored): %1</source>
        <translation>Paramètre inconnu (ignoré) : %1</translation>
    </message>
    <message>
        <location filename="../../app/ui/policy_marks.py" line="110"/>
        <source>No policy is set by your organisation on this computer.</source>
        <translation>Aucune politique n’est définie par votre organisation sur cet ordinateur.</translation>
    </message>
    <message>
        <location filename="../../app/ui/policy_marks.py" line="135"/>
        <source>not allowed by your organisation (smart cards only)</source>
        <translation>interdit par votre organisation (cartes à puce uniquement)</translation>
    </message>
    <message>
        <location filename="../../app/ui/policy_marks.py" line="137"/>
        <source>not allowed by your organisation (issuer)</source>
        <translation>interdit par votre organisation (émetteur)</translation>
    </message>
</context>
</TS>
