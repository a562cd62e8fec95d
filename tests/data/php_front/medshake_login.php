<?php
// MedShakeEHR's login as the reference describes it (msUser::checkLogin, _logLastCon,
// _loginSetCookies), on the test database: for the single sign-on test through front().
$path = parse_url($_SERVER['REQUEST_URI'], PHP_URL_PATH);
if ($path === '/login/') {
    echo '<!doctype html><form method="post" action="/login/logInDo/">'
        . '<input name="p_username" id="u"><input type="password" name="p_password" id="p">'
        . '<button id="go">Connexion</button></form>';
    exit;
}
if ($path === '/logout/') {  // MedShakeEHR's logout only expires the cookies
    foreach (['userName', 'userPass', 'apacheLogUserID'] as $name) {
        setcookie($name, '', ['expires' => time() - 3600, 'path' => '/']);
    }
    header('Location: /login/', true, 302);
    exit;
}
if ($path !== '/login/logInDo/') {
    header('Content-Type: text/plain');
    echo 'EHR page ' . $path;
    exit;
}
$pdo = new PDO(getenv('MSEHR_DSN'), 'root', '', [PDO::ATTR_ERRMODE => PDO::ERRMODE_EXCEPTION]);
$pdo->exec('SET NAMES utf8mb4');
$find = $pdo->prepare("SELECT id, name, CAST(AES_DECRYPT(pass, :k) AS CHAR(100)) AS h FROM people WHERE name = :n AND pass != ''");
$find->execute(['k' => getenv('MSEHR_KEY'), 'n' => $_POST['p_username'] ?? '']);
$user = $find->fetch(PDO::FETCH_ASSOC);
if (!$user || !password_verify($_POST['p_password'] ?? '', $user['h'])) {
    http_response_code(403);
    echo 'bad login';
    exit;
}
$now = date('Y-m-d H:i:s');
$fingerprint = sha1(($_SERVER['HTTP_ACCEPT_LANGUAGE'] ?? '') . getenv('MSEHR_FP') . ($_SERVER['HTTP_USER_AGENT'] ?? '') . $now);
$pdo->prepare('UPDATE people SET lastLogIP = :ip, lastLogDate = :d, lastLogFingerprint = :f WHERE id = :id')
    ->execute(['ip' => $_SERVER['REMOTE_ADDR'], 'd' => $now, 'f' => $fingerprint, 'id' => $user['id']]);
$options = ['expires' => time() + 31104000, 'path' => '/', 'httponly' => true];
setcookie('userName', $user['name'], $options);
setcookie('apacheLogUserID', (string) $user['id'], $options);
setcookie('userPass', password_hash($user['h'], PASSWORD_DEFAULT), $options);
header('Location: /patient/', true, 302);
