CREATE EXTERNAL DATA SOURCE db_users PROVIDER sqlite CONNECT 'file:users.sqlite'
  AS USER 'reader' PASSWORD 's3cret' OPTIONS 'pool_max=4;connect_timeout=5s;busy_timeout=1000';
CREATE EXTERNAL USER ON db_users AS 'ro_alice' PASSWORD ENV 'ALICE_PW' FOR alice;
ALTER EXTERNAL USER ON db_users AS CURRENT_USER FOR ALL;
