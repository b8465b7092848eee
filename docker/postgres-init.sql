-- The governed warehouse database beside Airflow's metadata database (docker-compose only).
create database warehouse owner airflow;
