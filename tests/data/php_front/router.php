<?php
// A small PHP "EHR" for the front() proxy tests: sets two cookies, echoes what it received.
$path = parse_url($_SERVER['REQUEST_URI'], PHP_URL_PATH);
if ($path === '/login/logInDo/') {
    setcookie('userName', 'admin', ['path' => '/', 'httponly' => true]);
    setcookie('userPass', '$2y$10$abc', ['path' => '/', 'httponly' => true]);
    header('Location: /patient/4/', true, 302);
    exit;
}
if ($path === '/fichier/7/') {
    header('Content-Type: application/pdf');
    header('X-Ehr-Header: kept');
    echo str_repeat('%PDF', 50000);
    exit;
}
header('Content-Type: application/json');
header('X-Ehr-Header: kept');
echo json_encode([
    'method' => $_SERVER['REQUEST_METHOD'],
    'uri' => $_SERVER['REQUEST_URI'],
    'host' => $_SERVER['HTTP_HOST'] ?? '',
    'cookies' => $_COOKIE,
    'agent' => $_SERVER['HTTP_USER_AGENT'] ?? '',
    'language' => $_SERVER['HTTP_ACCEPT_LANGUAGE'] ?? '',
    'forwarded_for' => $_SERVER['HTTP_X_FORWARDED_FOR'] ?? '',
    'post' => $_POST,
    'body' => file_get_contents('php://input'),
]);
